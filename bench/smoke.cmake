# ctest's check of mlp_bench (cmake -DBENCH=path -P smoke.cmake). It times
# nothing: each workload runs a few steps, and the run must report what
# holds on any machine at any speed. Every step after warm-up makes no heap
# allocation while the count of the set-up's allocations is not zero (the
# --wrap=mlp_alloc counter works), and after 20,000 xor steps the library's
# parameters equal the hand-written step's bit for bit. --net runs with
# each --loss, and --infer-sweep once.

# Runs mlp_bench with ARGN and --json, and puts its parsed output in out.
function(run_bench out)
  list(JOIN ARGN " " args)
  execute_process(COMMAND ${BENCH} --json ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE json ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "mlp_bench ${args} exited with ${rc}:\n${err}")
  endif()
  set(${out} "${json}" PARENT_SCOPE)
endfunction()

# Fails unless every workload in json made zero allocations per step, and
# unless names (a list) are exactly the workloads it reports.
function(check_allocations json names)
  string(JSON count LENGTH "${json}")
  list(LENGTH names expected)
  if(NOT count EQUAL expected)
    message(FATAL_ERROR "expected ${expected} workloads, got ${count}:\n${json}")
  endif()
  math(EXPR last "${count} - 1")
  foreach(i RANGE ${last})
    string(JSON name GET "${json}" ${i} workload)
    list(GET names ${i} want)
    string(JSON per_step GET "${json}" ${i} allocs_per_step)
    string(JSON setup GET "${json}" ${i} setup_allocs)
    if(NOT name STREQUAL want OR NOT per_step EQUAL 0 OR setup EQUAL 0)
      message(FATAL_ERROR "${name}: ${per_step} allocations per step, ${setup} in set-up "
                          "(expected workload ${want}, 0 per step, some in set-up)")
    endif()
  endforeach()
endfunction()

run_bench(all --iters 3 --warmup 2 --rounds 1)
check_allocations("${all}" "xor;digits-size;large")

run_bench(xor --workload xor --iters 10000 --warmup 10000 --rounds 1)
check_allocations("${xor}" "xor")
string(JSON diff GET "${xor}" 0 xor_max_param_diff)
if(NOT diff EQUAL 0)
  message(FATAL_ERROR "xor: the library's parameters differ from the hand-written step's "
                      "by up to ${diff}")
endif()

# --net with each output and loss, 1 output where the loss allows it.
foreach(case "13-16-2;ce" "13-16-1;bce" "13-16-1;mse")
  list(GET case 0 widths)
  list(GET case 1 loss)
  run_bench(net --net ${widths} --loss ${loss} --iters 3 --warmup 2 --rounds 1)
  check_allocations("${net}" "${widths}/${loss}")
endforeach()

# --infer-sweep runs mlp_infer and mlp_predict, which must both succeed
# (mlp_bench exits non-zero otherwise), at one row and at the batch.
execute_process(COMMAND ${BENCH} --infer-sweep --net 4-16-3 --batch 8 --iters 10
                RESULT_VARIABLE rc OUTPUT_VARIABLE table ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT table MATCHES "4-16-3 +8 ")
  message(FATAL_ERROR "mlp_bench --infer-sweep exited with ${rc}:\n${table}${err}")
endif()
