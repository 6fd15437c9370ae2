// ggml's RPC backend, reached only through the "RPC" backend registry and its
// proc addresses: the addon never links libggml-rpc.so, which the backend
// loader registers when it sits next to the addon. Two uses:
// - rpcAddServer: connects to a remote rpc-server and keeps its devices here,
//   so a model can be loaded onto them by device name (llama.cpp's --rpc). They
//   are not registered with ggml's device list: enumerating it (backendDevices)
//   would query every server ever added, and ggml aborts the process when one
//   is gone. ggml also aborts when the first connection fails, so the JS side
//   (src/model/rpc-servers.ts) probes every address with a timeout first.
// - rpcStartServer: runs ggml_backend_rpc_start_server with this process's CPU
//   device on a pool thread; it never returns unless the server fails to start.
#include "rpc_backend.h"

#include "ggml-backend.h"
#include "promise_worker.h"

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace {
using rpc_add_server_fn   = ggml_backend_reg_t (*)(const char * endpoint);
using rpc_start_server_fn = void (*)(const char *         endpoint,
                                     const char *         cache_dir,
                                     size_t               n_threads,
                                     size_t               n_devices,
                                     ggml_backend_dev_t * devices);

std::mutex                                      g_mutex;
std::map<std::string, std::vector<std::string>> g_server_devices;  // endpoint -> its device names
std::map<std::string, ggml_backend_dev_t>       g_devices;         // device name -> device

void * rpc_proc(Napi::Env env, const char * name) {
    ggml_backend_reg_t reg = ggml_backend_reg_by_name("RPC");
    if (reg == nullptr) {
        throw addon_error(
            env, "ERR_GPU_UNAVAILABLE",
            "ggml's RPC backend is not loaded (libggml-rpc.so is missing next to the addon, or this addon "
            "has its backends compiled in)");
    }
    void * fn = ggml_backend_reg_get_proc_address(reg, name);
    if (fn == nullptr) {
        throw addon_error(env, "ERR_INTERNAL", std::string("ggml's RPC backend has no ") + name);
    }
    return fn;
}

std::string endpoint_arg(const Napi::CallbackInfo & info, const char * signature) {
    if (info.Length() < 1 || !info[0].IsString()) {
        throw Napi::TypeError::New(info.Env(), signature);
    }
    return info[0].As<Napi::String>().Utf8Value();
}

class RpcServerWorker : public PromiseWorker<Napi::AsyncWorker> {
  public:
    RpcServerWorker(Napi::Env           env,
                    rpc_start_server_fn start,
                    std::string         endpoint,
                    size_t              threads,
                    ggml_backend_dev_t  cpu) :
        PromiseWorker(env, "llama-reward:rpcStartServer", "ERR_LOAD_FAILED"),
        start_(start),
        endpoint_(std::move(endpoint)),
        threads_(threads),
        cpu_(cpu) {}

  protected:
    void Execute() override {
        ggml_backend_dev_t devices[1] = { cpu_ };
        start_(endpoint_.c_str(), nullptr, threads_, 1, devices);
        // it only returns when it could not start (bind failed, no backend)
        SetError("ggml's RPC server stopped: it could not listen on " + endpoint_ + " (see the lines above)");
    }

    Napi::Value result(Napi::Env env) override { return env.Undefined(); }

  private:
    rpc_start_server_fn start_;
    std::string         endpoint_;
    size_t              threads_;
    ggml_backend_dev_t  cpu_;
};
}  // namespace

ggml_backend_dev_t rpc_device_by_name(const std::string & name) {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto                        it = g_devices.find(name);
    return it == g_devices.end() ? nullptr : it->second;
}

Napi::Value rpc_add_server(const Napi::CallbackInfo & info) {
    Napi::Env                   env      = info.Env();
    const std::string           endpoint = endpoint_arg(info, "rpcAddServer(endpoint: string)");
    auto                        add = reinterpret_cast<rpc_add_server_fn>(rpc_proc(env, "ggml_backend_rpc_add_server"));
    std::lock_guard<std::mutex> lock(g_mutex);
    auto                        it = g_server_devices.find(endpoint);
    if (it == g_server_devices.end()) {
        ggml_backend_reg_t reg = add(endpoint.c_str());
        if (reg == nullptr) {
            throw addon_error(env, "ERR_LOAD_FAILED", "the RPC server at " + endpoint + " reports no devices");
        }
        std::vector<std::string> names;
        for (size_t i = 0; i < ggml_backend_reg_dev_count(reg); i++) {
            ggml_backend_dev_t dev = ggml_backend_reg_dev_get(reg, i);
            names.push_back(ggml_backend_dev_name(dev));
            g_devices[names.back()] = dev;
        }
        it = g_server_devices.emplace(endpoint, std::move(names)).first;
    }
    Napi::Array out = Napi::Array::New(env, it->second.size());
    for (size_t i = 0; i < it->second.size(); i++) {
        out.Set(i, it->second[i]);
    }
    return out;
}

Napi::Value rpc_start_server(const Napi::CallbackInfo & info) {
    Napi::Env         env      = info.Env();
    const std::string endpoint = endpoint_arg(info, "rpcStartServer(endpoint: string, threads: number)");
    if (info.Length() < 2 || !info[1].IsNumber() || info[1].As<Napi::Number>().Int64Value() < 1) {
        throw Napi::TypeError::New(env, "rpcStartServer: threads must be a positive integer");
    }
    const size_t       threads = static_cast<size_t>(info[1].As<Napi::Number>().Int64Value());
    auto               start   = reinterpret_cast<rpc_start_server_fn>(rpc_proc(env, "ggml_backend_rpc_start_server"));
    ggml_backend_dev_t cpu     = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    if (cpu == nullptr) {
        throw addon_error(env, "ERR_LOAD_FAILED", "no CPU backend is loaded to serve");
    }
    return (new RpcServerWorker(env, start, endpoint, threads, cpu))->queue();
}
