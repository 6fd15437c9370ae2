// Per-environment state of the addon (one per Node main thread or worker
// thread): the class constructors and every live native handle, so the
// environment's cleanup hook can free them when the thread exits.
#pragma once

#include <napi.h>

#include <set>

class AddonModel;
class AddonContext;

struct AddonState {
    Napi::FunctionReference  model_constructor;
    Napi::FunctionReference  context_constructor;
    std::set<AddonModel *>   models;
    std::set<AddonContext *> contexts;
    bool                     tearing_down = false;
};

AddonState & addon_state(Napi::Env env);

// Builds an Error whose `code` property is set, for the JS layer to map.
Napi::Error addon_error(Napi::Env env, const char * code, const std::string & message);
