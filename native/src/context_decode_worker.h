// ContextDecodeWorker: one scheduler step. On the JS thread it validates and
// copies the step (KV edits, then a packed batch of tokens from many
// sequences); on the thread pool it applies the KV edits, runs llama_decode
// and reads the reward vector of every sequence that ended in this batch,
// then the final-norm hidden state of every marked token (rows).
#pragma once

#include "llama.h"
#include "promise_worker.h"

#include <napi.h>

#include <vector>

class AddonContext;

// context.decode(step: NativeDecodeStep): Promise<Float32Array>
class ContextDecodeWorker : public PromiseWorker<Napi::AsyncWorker> {
  public:
    ContextDecodeWorker(Napi::Env env, AddonContext * context, Napi::Object context_object, Napi::Object step);

  protected:
    void        Execute() override;
    Napi::Value result(Napi::Env env) override;
    void        settling() override;

  private:
    Napi::ObjectReference context_ref_;  // keeps the context alive while the step runs
    AddonContext *        context_;

    std::vector<llama_seq_id> remove_;  // sequences whose KV is dropped first
    std::vector<int32_t>      copies_;  // (src, dst, p0, p1) KV copies, applied after removals
    std::vector<llama_token>  tokens_;
    std::vector<llama_seq_id> seq_ids_;
    std::vector<llama_pos>    positions_;
    std::vector<llama_seq_id> outputs_;  // sequences whose last token is in this batch
    std::vector<int32_t>      rows_;     // batch indices of marked tokens whose hidden state is read
    std::vector<float>        result_;   // n_cls_out floats per output sequence, then n_embd per marked row
};
