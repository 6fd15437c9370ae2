// Exports over ggml's RPC backend (libggml-rpc.so, loaded at run time like the
// other backend libraries; see rpc_backend.cpp).
#pragma once

#include "ggml-backend.h"

#include <napi.h>

#include <string>

// The RPC device of that name (RPC0, RPC1, ...) from a server added with rpcAddServer, or nullptr.
ggml_backend_dev_t rpc_device_by_name(const std::string & name);

// rpcAddServer(endpoint: string): string[]
Napi::Value rpc_add_server(const Napi::CallbackInfo & info);
// rpcStartServer(endpoint: string, threads: number): Promise<void>
Napi::Value rpc_start_server(const Napi::CallbackInfo & info);
