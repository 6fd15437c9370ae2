// Routes llama.cpp/ggml logging: silent by default (LLAMA_REWARD_DEBUG=1
// prints everything to stderr) and keeps the error lines of the calling
// thread so failures can be reported with llama.cpp's own explanation.
#pragma once

#include <string>

void        log_capture_install();
void        log_capture_clear();  // forget this thread's captured errors
std::string log_capture_take();   // this thread's captured errors, then clear
