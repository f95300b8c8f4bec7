# cmake -DFIRST=prog -DSECOND=prog -P same_output.cmake: runs both programs
# and fails unless both succeed with the same standard output.
foreach(prog FIRST SECOND)
  execute_process(COMMAND ${${prog}} RESULT_VARIABLE rc_${prog} OUTPUT_VARIABLE out_${prog})
  if(NOT rc_${prog} EQUAL 0)
    message(FATAL_ERROR "${${prog}} failed (${rc_${prog}}):\n${out_${prog}}")
  endif()
endforeach()
if(NOT out_FIRST STREQUAL out_SECOND)
  message(FATAL_ERROR "outputs differ:\n${FIRST}:\n${out_FIRST}\n${SECOND}:\n${out_SECOND}")
endif()
message(STATUS "same output:\n${out_FIRST}")
