# Installs libmlp into a fresh prefix and builds and runs the program in
# consumer/ against it twice: through find_package(mlp) and through
# pkg-config. Run with cmake -P and these variables:
#   BUILD_DIR   the configured and built libmlp tree to install
#   WORK_DIR    a scratch folder (emptied first)
#   C_COMPILER  the compiler libmlp was built with
#   C_FLAGS     its flags (sanitizer builds need them at link time too)
#   CONFIG      the build configuration (for multi-config generators)
cmake_minimum_required(VERSION 3.20)

set(consumer_dir "${CMAKE_CURRENT_LIST_DIR}/consumer")
set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# Runs a command, echoing it, and fails the test if it fails.
function(run_step)
  list(JOIN ARGV " " line)
  message(STATUS "+ ${line}")
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "step failed (${rc}): ${line}")
  endif()
endfunction()

run_step(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}" --config "${CONFIG}")

# 1. CMake: find_package(mlp) with the prefix on CMAKE_PREFIX_PATH.
run_step(${CMAKE_COMMAND} -S "${consumer_dir}" -B "${WORK_DIR}/cmake-build"
         "-DCMAKE_PREFIX_PATH=${prefix}" "-DCMAKE_C_COMPILER=${C_COMPILER}"
         "-DCMAKE_C_FLAGS=${C_FLAGS}" "-DCMAKE_BUILD_TYPE=${CONFIG}")
run_step(${CMAKE_COMMAND} --build "${WORK_DIR}/cmake-build" --config "${CONFIG}")
set(app "${WORK_DIR}/cmake-build/app")
if(NOT EXISTS "${app}")
  set(app "${WORK_DIR}/cmake-build/${CONFIG}/app") # multi-config generators
endif()
run_step("${app}")

# 2. pkg-config: cc main.c $(pkg-config --cflags --libs mlp). GNUInstallDirs
# may have chosen lib, lib64 or lib/<multiarch>, so look for mlp.pc.
file(GLOB_RECURSE pc_file "${prefix}/mlp.pc")
if(NOT pc_file)
  message(FATAL_ERROR "mlp.pc was not installed under ${prefix}")
endif()
list(GET pc_file 0 pc_file)
get_filename_component(pc_dir "${pc_file}" DIRECTORY)
find_program(PKG_CONFIG_EXECUTABLE NAMES pkg-config pkgconf REQUIRED)
set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
execute_process(COMMAND "${PKG_CONFIG_EXECUTABLE}" --cflags --libs mlp
                OUTPUT_VARIABLE pc_flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config --cflags --libs mlp failed")
endif()
separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
separate_arguments(c_flags UNIX_COMMAND "${C_FLAGS}")
run_step("${C_COMPILER}" ${c_flags} "${consumer_dir}/main.c" -o "${WORK_DIR}/app-pc" ${pc_flags})
run_step("${WORK_DIR}/app-pc")
