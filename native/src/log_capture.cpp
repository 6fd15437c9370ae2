#include "log_capture.h"

#include "ggml.h"
#include "llama.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace {
thread_local std::string    t_errors;
thread_local ggml_log_level t_last_level = GGML_LOG_LEVEL_NONE;
bool                        g_debug      = false;

void log_callback(ggml_log_level level, const char * text, void *) {
    if (g_debug) {
        fputs(text, stderr);
    }
    if (level != GGML_LOG_LEVEL_CONT) {
        t_last_level = level;
    }
    if (t_last_level == GGML_LOG_LEVEL_ERROR && t_errors.size() < 16384) {
        t_errors += text;
    }
}
}  // namespace

void log_capture_install() {
    static std::once_flag once;
    std::call_once(once, [] {
        const char * debug = std::getenv("LLAMA_REWARD_DEBUG");
        g_debug            = debug != nullptr && debug[0] != '\0' && debug[0] != '0';
        llama_log_set(log_callback, nullptr);
    });
}

void log_capture_clear() {
    t_errors.clear();
}

std::string log_capture_take() {
    std::string out;
    out.swap(t_errors);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
        out.pop_back();
    }
    return out;
}
