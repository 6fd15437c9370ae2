// Process-level helpers for `llama-reward rpc-server` (see rpc_server_process.cpp).
#pragma once

#include <napi.h>

// rpcDetachStdout(): number
Napi::Value rpc_detach_stdout(const Napi::CallbackInfo & info);
// rpcListeningPort(host: string): number
Napi::Value rpc_listening_port(const Napi::CallbackInfo & info);
