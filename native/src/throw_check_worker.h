// ThrowCheckWorker: an asynchronous export whose Execute throws, so the tests
// can prove that an exception on the pool thread rejects the promise (with
// ERR_INTERNAL) instead of terminating the process (see PromiseWorker::OnExecute).
#pragma once

#include "promise_worker.h"

#include <napi.h>

// checkWorkerThrow(kind: "std" | "other"): Promise<never>
Napi::Value check_worker_throw(const Napi::CallbackInfo & info);
