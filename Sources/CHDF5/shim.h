#pragma once
// HDF5's type and flag names are macros that call H5open() (e.g. H5T_NATIVE_FLOAT is
// `(H5open(), H5T_NATIVE_FLOAT_g)`), which Swift cannot import; these accessors re-export them.
// Only the HDF5 module imports this.
#include <hdf5.h>
static inline hid_t    swh5_native_float(void)    { return H5T_NATIVE_FLOAT; }
static inline hid_t    swh5_native_double(void)   { return H5T_NATIVE_DOUBLE; }
static inline hid_t    swh5_native_int32(void)    { return H5T_NATIVE_INT32; }
static inline hid_t    swh5_native_int64(void)    { return H5T_NATIVE_INT64; }
static inline hid_t    swh5_native_uint8(void)    { return H5T_NATIVE_UINT8; }
static inline hid_t    swh5_ieee_f32le(void)      { return H5T_IEEE_F32LE; }
static inline hid_t    swh5_ieee_f64le(void)      { return H5T_IEEE_F64LE; }
static inline hid_t    swh5_std_i32le(void)       { return H5T_STD_I32LE; }
static inline hid_t    swh5_std_i64le(void)       { return H5T_STD_I64LE; }
static inline hid_t    swh5_std_u8le(void)        { return H5T_STD_U8LE; }
static inline hid_t    swh5_c_s1(void)            { return H5T_C_S1; }
static inline hid_t    swh5_p_dataset_create(void){ return H5P_DATASET_CREATE; }
static inline hid_t    swh5_p_link_create(void)   { return H5P_LINK_CREATE; }
static inline hid_t    swh5_e_default(void)       { return H5E_DEFAULT; }
static inline hid_t    swh5_p_default(void)       { return H5P_DEFAULT; }
static inline unsigned swh5_acc_trunc(void)       { return H5F_ACC_TRUNC; }
static inline unsigned swh5_acc_excl(void)        { return H5F_ACC_EXCL; }
static inline unsigned swh5_acc_rdonly(void)      { return H5F_ACC_RDONLY; }
static inline unsigned swh5_acc_rdwr(void)        { return H5F_ACC_RDWR; }
static inline hsize_t  swh5_unlimited(void)       { return H5S_UNLIMITED; }
static inline size_t   swh5_variable(void)        { return H5T_VARIABLE; }
