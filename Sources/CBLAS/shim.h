#pragma once
// OpenBLAS's CBLAS interface (pthread build on Debian). Only the Linalg module imports this.
#include <cblas.h>
