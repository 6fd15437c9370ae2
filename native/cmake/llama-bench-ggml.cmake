# Given to llama.cpp's own CMake build of llama-bench (tools/bench/llama-bench-tool.ts) as
# CMAKE_PROJECT_ggml_INCLUDE: it runs right after project(ggml), and defers to the end of
# ggml's CMakeLists.txt, when the ggml-cpu target exists, the -fno-dse of
# native/cmake/ggml-amx-tile-config.cmake, so llama-bench runs ggml's AMX int8 kernel as the addon does.
include("${CMAKE_CURRENT_LIST_DIR}/ggml-amx-tile-config.cmake")
cmake_language(DEFER CALL llama_reward_store_amx_tile_config ggml-cpu "${CMAKE_CURRENT_SOURCE_DIR}")
