# ggml's AMX int8 kernel (ggml/src/ggml-cpu/amx/mmq.cpp) compiled by GCC: GCC 12's
# _tile_loadconfig() (amxtileintrin.h) declares only an 8-byte memory operand for
# ldtilecfg, so RTL dead-store elimination drops the rows and column widths that
# ggml_tile_config_init writes into the 64-byte tile configuration. ldtilecfg then
# loads empty tiles and the first tile instruction kills the process (SIGILL, or a
# general-protection fault). Without that pass, on that one file, the whole
# configuration is stored. Included by CMakeLists.txt (ggml compiled into the
# addon), native/ggml-cpu-variants/CMakeLists.txt (the sapphirerapids variant) and
# native/cmake/llama-bench-ggml.cmake (the bench's llama-bench).

# Compiles amx/mmq.cpp of the ggml CPU backend target `target` (from the ggml tree `ggml_dir`) with -fno-dse:
# a source file property of the directory that created `target`, so of every target there that compiles it.
function(llama_reward_store_amx_tile_config target ggml_dir)
    if (CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
        set_property(SOURCE "${ggml_dir}/src/ggml-cpu/amx/mmq.cpp" TARGET_DIRECTORY ${target}
            APPEND PROPERTY COMPILE_OPTIONS -fno-dse)
    endif()
endfunction()
