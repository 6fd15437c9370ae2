#include "throw_check_worker.h"

#include <stdexcept>
#include <string>

namespace {
struct NotAStdException {
    int value;
};

class ThrowCheckWorker : public PromiseWorker<Napi::AsyncWorker> {
  public:
    ThrowCheckWorker(Napi::Env env, bool std_kind) :
        PromiseWorker(env, "llama-reward:checkWorkerThrow", "ERR_INTERNAL"),
        std_kind_(std_kind) {}

  protected:
    void Execute() override {
        if (std_kind_) {
            throw std::runtime_error("a std::exception thrown on purpose");
        }
        throw NotAStdException{ 42 };
    }

    Napi::Value result(Napi::Env env) override { return env.Undefined(); }

  private:
    bool std_kind_;
};
}  // namespace

Napi::Value check_worker_throw(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) {
        throw Napi::TypeError::New(env, "checkWorkerThrow(kind: \"std\" | \"other\")");
    }
    const std::string kind = info[0].As<Napi::String>().Utf8Value();
    if (kind != "std" && kind != "other") {
        throw Napi::TypeError::New(env, "checkWorkerThrow: kind must be \"std\" or \"other\"");
    }
    return (new ThrowCheckWorker(env, kind == "std"))->queue();
}
