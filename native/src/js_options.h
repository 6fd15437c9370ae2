// Readers for the option objects the JS layer passes to the addon (shapes in
// src/addon/native-types.ts). One style for every export: a missing or
// mistyped value throws a TypeError, an out-of-range one a RangeError, and
// each message names the export and the key. The JS layer validates user
// input first (src/model/load-options.ts), so these only catch misuse of the addon.
#pragma once

#include <napi.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace js_options {

inline std::string where_key(const char * where, const char * key) {
    return std::string(where) + ": " + key;
}

// A number that is an integer in [min_value, max_value].
inline int64_t integer(Napi::Object options,
                       const char * key,
                       const char * where,
                       int64_t      min_value,
                       int64_t      max_value) {
    Napi::Value v = options.Get(key);
    if (!v.IsNumber()) {
        throw Napi::TypeError::New(options.Env(), where_key(where, key) + " must be a number");
    }
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= (double) min_value && d <= (double) max_value) || d != (double) (int64_t) d) {
        throw Napi::RangeError::New(options.Env(), where_key(where, key) + " must be an integer from " +
                                                       std::to_string(min_value) + " to " + std::to_string(max_value));
    }
    return (int64_t) d;
}

inline int32_t int32(Napi::Object options,
                     const char * key,
                     const char * where,
                     int32_t      min_value = INT32_MIN,
                     int32_t      max_value = INT32_MAX) {
    return (int32_t) integer(options, key, where, min_value, max_value);
}

inline uint32_t uint32(Napi::Object options,
                       const char * key,
                       const char * where,
                       uint32_t     min_value = 0,
                       uint32_t     max_value = 1000000000) {
    return (uint32_t) integer(options, key, where, min_value, max_value);
}

inline bool boolean(Napi::Object options, const char * key, const char * where) {
    Napi::Value v = options.Get(key);
    if (!v.IsBoolean()) {
        throw Napi::TypeError::New(options.Env(), where_key(where, key) + " must be a boolean");
    }
    return v.As<Napi::Boolean>().Value();
}

// One of a fixed set of strings, mapped to its value.
template <typename T>
T choice(Napi::Object                                      options,
         const char *                                      key,
         const char *                                      where,
         std::initializer_list<std::pair<const char *, T>> choices) {
    Napi::Value v = options.Get(key);
    std::string names;
    if (v.IsString()) {
        const std::string s = v.As<Napi::String>().Utf8Value();
        for (const auto & c : choices) {
            if (s == c.first) {
                return c.second;
            }
        }
    }
    for (const auto & c : choices) {
        names += names.empty() ? c.first : std::string(", ") + c.first;
    }
    throw Napi::RangeError::New(options.Env(), where_key(where, key) + " must be one of " + names);
}

// A copy of an Int32Array, so the worker never reads JS memory off the JS thread.
inline std::vector<int32_t> int32_array(Napi::Object options, const char * key, const char * where) {
    Napi::Value v = options.Get(key);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
        throw Napi::TypeError::New(options.Env(), where_key(where, key) + " must be an Int32Array");
    }
    Napi::Int32Array a = v.As<Napi::Int32Array>();
    return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

}  // namespace js_options
