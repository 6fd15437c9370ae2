// PromiseWorker: what every asynchronous export of the addon shares. It wraps
// one node-addon-api worker type (AsyncWorker, AsyncProgressWorker,
// AsyncProgressQueueWorker) with a deferred promise that settles on the JS
// thread: resolved with result(), or rejected with an Error whose `code` is
// the worker's error code (the JS side maps codes in src/errors.ts). A
// subclass only writes Execute, result and, when it owns native memory that
// a failed hand-over would leak, discard.
#pragma once

#include "addon_state.h"

#include <napi.h>

#include <initializer_list>
#include <string>

template <typename Base> class PromiseWorker : public Base {
  public:
    // Queues the worker and returns its promise. node-addon-api deletes the
    // worker after OnOK/OnError, so the caller must not touch it afterwards.
    Napi::Promise queue() {
        Napi::Promise promise = deferred_.Promise();
        this->Queue();
        return promise;
    }

  protected:
    PromiseWorker(Napi::Env env, const char * resource_name, const char * error_code) :
        Base(env, resource_name),
        deferred_(Napi::Promise::Deferred::New(env)),
        error_code_(error_code) {}

    // On the JS thread after Execute succeeded: the value the promise resolves
    // with. Throwing a Napi::Error (addon_error) rejects with that error instead.
    virtual Napi::Value result(Napi::Env env) = 0;

    // On the JS thread when result() threw or the environment is shutting down:
    // frees what Execute produced and nobody took over.
    virtual void discard() {}

    // On the JS thread before the promise settles, after success and failure alike.
    virtual void settling() {}

    // From Execute: fail with a code other than the worker's default.
    void fail(const char * code, const std::string & message) {
        error_code_ = code;
        this->SetError(message);
    }

    // Runs Execute on the pool thread so that no C++ exception escapes it: node-addon-api catches only
    // std::exception there, and anything else thrown would terminate the process. Both kinds reject the
    // promise with the worker's code instead.
    void OnExecute(Napi::Env env) override {
        try {
            Base::OnExecute(env);
        } catch (const std::exception & e) {
            this->SetError(std::string("native error: ") + e.what());
        } catch (...) {
            this->SetError("native error: an unknown C++ exception was thrown");
        }
    }

    void OnOK() override {
        settling();
        try {
            deferred_.Resolve(result(this->Env()));
        } catch (const Napi::Error & error) {
            discard();
            try {
                deferred_.Reject(error.Value());
            } catch (const Napi::Error &) {
                // the environment is shutting down: nobody waits for this promise
            }
        }
    }

    void OnError(const Napi::Error & error) override {
        settling();
        try {
            deferred_.Reject(addon_error(this->Env(), error_code_.c_str(), error.Message()).Value());
        } catch (const Napi::Error &) {
            // the environment is shutting down: nobody waits for this promise
        }
    }

  private:
    Napi::Promise::Deferred deferred_;
    std::string             error_code_;
};

// An optional JS progress callback, called on the JS thread. A callback that
// throws must not break the operation it reports on, so its error is dropped.
class ProgressCallback {
  public:
    void set(Napi::Value value) {
        if (value.IsFunction()) {
            fn_ = Napi::Persistent(value.As<Napi::Function>());
        }
    }

    bool empty() const { return fn_.IsEmpty(); }

    void call(std::initializer_list<napi_value> args) {
        if (fn_.IsEmpty()) {
            return;
        }
        Napi::HandleScope scope(fn_.Env());
        try {
            fn_.Call(args);
        } catch (const Napi::Error &) {
            // dropped on purpose, see above
        }
    }

  private:
    Napi::FunctionReference fn_;
};
