#pragma once
// Open MPI defines its handles as macros such as ((MPI_Comm)&ompi_mpi_comm_world) that Swift cannot
// import; these static inline accessors re-export them. Only the Communication module imports this.
#include <mpi.h>
static inline MPI_Comm     swmpi_comm_world(void)     { return MPI_COMM_WORLD; }
static inline MPI_Datatype swmpi_float(void)          { return MPI_FLOAT; }
static inline MPI_Datatype swmpi_double(void)         { return MPI_DOUBLE; }
static inline MPI_Datatype swmpi_int32(void)          { return MPI_INT32_T; }
static inline MPI_Datatype swmpi_int64(void)          { return MPI_INT64_T; }
static inline MPI_Datatype swmpi_uint8(void)          { return MPI_UINT8_T; }
static inline MPI_Op       swmpi_sum(void)            { return MPI_SUM; }
static inline MPI_Op       swmpi_max(void)            { return MPI_MAX; }
static inline MPI_Op       swmpi_min(void)            { return MPI_MIN; }
static inline void *       swmpi_in_place(void)       { return MPI_IN_PLACE; }
static inline MPI_Info     swmpi_info_null(void)      { return MPI_INFO_NULL; }
