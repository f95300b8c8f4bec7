# Finds OpenBLAS with its cblas.h the way Debian and Fedora ship it and
# defines the imported target mlp::openblas. Used both by libmlp's own build
# and by the installed mlpConfig.cmake, so a consumer links the same BLAS.
# Sets MLP_OPENBLAS_FOUND and, when found through pkg-config,
# MLP_OPENBLAS_VIA_PKGCONFIG.
if(TARGET mlp::openblas)
  set(MLP_OPENBLAS_FOUND TRUE)
  return()
endif()

set(MLP_OPENBLAS_FOUND FALSE)
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(MLP_OPENBLAS_PC QUIET IMPORTED_TARGET openblas)
endif()

if(MLP_OPENBLAS_PC_FOUND)
  add_library(mlp::openblas INTERFACE IMPORTED)
  target_link_libraries(mlp::openblas INTERFACE PkgConfig::MLP_OPENBLAS_PC)
  set(MLP_OPENBLAS_FOUND TRUE)
  set(MLP_OPENBLAS_VIA_PKGCONFIG TRUE)
else()
  set(BLA_VENDOR OpenBLAS)
  find_package(BLAS QUIET)
  find_path(MLP_CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas openblas-pthread)
  if(BLAS_FOUND AND MLP_CBLAS_INCLUDE_DIR)
    add_library(mlp::openblas INTERFACE IMPORTED)
    target_link_libraries(mlp::openblas INTERFACE BLAS::BLAS)
    target_include_directories(mlp::openblas INTERFACE "${MLP_CBLAS_INCLUDE_DIR}")
    set(MLP_OPENBLAS_FOUND TRUE)
  endif()
endif()
