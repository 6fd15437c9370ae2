// AbortFlag: a one-element Int32Array that the JS thread raises
// (Atomics.store(flag, 0, 1)) and a worker thread polls. The array stays
// referenced for the worker's life, and every read is an atomic load, so the
// pool thread never reads JS memory with a plain (racy) access.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

#if defined(_MSC_VER) && !defined(__clang__)
#    include <intrin.h>
#endif

class AbortFlag {
  public:
    // Takes the flag from a JS value; throws a TypeError naming `where` unless it is an Int32Array of >= 1 element.
    void set(Napi::Value value, const std::string & where) {
        if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
            value.As<Napi::Int32Array>().ElementLength() < 1) {
            throw Napi::TypeError::New(value.Env(), where + ": abortFlag must be an Int32Array of one element");
        }
        ref_  = Napi::Persistent(value.As<Napi::Object>());
        data_ = value.As<Napi::Int32Array>().Data();
    }

    // Safe from any thread while the worker that owns this flag is alive.
    bool raised() const {
        if (data_ == nullptr) {
            return false;
        }
#if defined(_MSC_VER) && !defined(__clang__)
        return _InterlockedCompareExchange(reinterpret_cast<volatile long *>(data_), 0, 0) != 0;
#else
        return __atomic_load_n(data_, __ATOMIC_ACQUIRE) != 0;
#endif
    }

  private:
    Napi::ObjectReference ref_;  // keeps the array's memory alive
    int32_t *             data_ = nullptr;
};
