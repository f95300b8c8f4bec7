# ctest's check of parity_steps (cmake -DPARITY=path -DWORK=dir -P
# parity_smoke.cmake), which torch_parity.py drives but CI cannot run
# without PyTorch: one step of a 2-2-1 network must write its 9 parameters
# before and after and one loss, 19 float32 values; a short input and a
# malformed network must fail. The input is text: any 4 printable ASCII
# bytes read as a small positive float32.

set(in "${WORK}/parity_smoke.in")
set(out "${WORK}/parity_smoke.out")
file(WRITE "${in}" "000000000000") # one row of 2 inputs and 1 target

# Runs parity_steps with ARGN on the input; puts its exit status in rc.
function(run_parity rc)
  execute_process(COMMAND ${PARITY} ${ARGN} INPUT_FILE "${in}" OUTPUT_FILE "${out}"
                  RESULT_VARIABLE status ERROR_VARIABLE err)
  set(${rc} "${status}" PARENT_SCOPE)
endfunction()

run_parity(rc 2-2-1 tanh identity mse sgd 0.1 0.9 0 1 1 7)
file(SIZE "${out}" size)
if(NOT rc EQUAL 0 OR NOT size EQUAL 76)
  message(FATAL_ERROR "one step: exit ${rc}, ${size} bytes written, 76 expected")
endif()

run_parity(rc 2-2-1 tanh identity mse sgd 0.1 0.9 0 1 2 7)
if(rc EQUAL 0)
  message(FATAL_ERROR "two steps on the input of one succeeded")
endif()

run_parity(rc 2-2- tanh identity mse sgd 0.1 0.9 0 1 1 7)
if(rc EQUAL 0)
  message(FATAL_ERROR "the widths 2-2- were taken")
endif()
