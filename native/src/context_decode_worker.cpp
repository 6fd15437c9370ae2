#include "context_decode_worker.h"

#include "addon_context.h"
#include "addon_model.h"
#include "addon_state.h"
#include "js_options.h"
#include "log_capture.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace {
[[noreturn]] void invalid(Napi::Env env, const char * code, const std::string & message) {
    throw addon_error(env, code, "decode: " + message);
}
}  // namespace

ContextDecodeWorker::ContextDecodeWorker(Napi::Env      env,
                                         AddonContext * context,
                                         Napi::Object   context_object,
                                         Napi::Object   step) :
    PromiseWorker(env, "llama-reward:decode", "ERR_DECODE_FAILED"),
    context_ref_(Napi::Persistent(context_object)),
    context_(context) {
    remove_    = js_options::int32_array(step, "remove", "decode");
    copies_    = js_options::int32_array(step, "copies", "decode");
    tokens_    = js_options::int32_array(step, "tokens", "decode");
    seq_ids_   = js_options::int32_array(step, "seqIds", "decode");
    positions_ = js_options::int32_array(step, "positions", "decode");
    outputs_   = js_options::int32_array(step, "outputs", "decode");
    if (!step.Get("rows").IsUndefined()) {
        rows_ = js_options::int32_array(step, "rows", "decode");
    }

    // Everything llama.cpp would assert on (or silently misuse) is rejected here.
    const auto seq_ok = [&](int32_t s) {
        return s >= 0 && (uint32_t) s < context->n_seq_max;
    };
    if (seq_ids_.size() != tokens_.size() || positions_.size() != tokens_.size()) {
        invalid(env, "ERR_INVALID_TOKENS", "tokens, seqIds and positions must have the same length");
    }
    if (tokens_.size() > context->n_batch) {
        invalid(env, "ERR_INVALID_TOKENS",
                "a step holds " + std::to_string(tokens_.size()) + " tokens, more than the batch size " +
                    std::to_string(context->n_batch));
    }
    if (copies_.size() % 4 != 0) {
        invalid(env, "ERR_INVALID_TOKENS", "copies must hold (src, dst, p0, p1) quadruples");
    }
    for (int32_t s : remove_) {
        if (!seq_ok(s)) {
            invalid(env, "ERR_INVALID_TOKENS", "invalid sequence id " + std::to_string(s));
        }
    }
    for (size_t i = 0; i < copies_.size(); i += 4) {
        if (!seq_ok(copies_[i]) || !seq_ok(copies_[i + 1]) || copies_[i] == copies_[i + 1]) {
            invalid(env, "ERR_INVALID_TOKENS", "invalid KV copy between sequences");
        }
    }
    std::unordered_set<int32_t> in_batch;
    for (size_t i = 0; i < tokens_.size(); i++) {
        if (tokens_[i] < 0 || tokens_[i] >= context->n_vocab) {
            invalid(env, "ERR_INVALID_TOKENS",
                    "token id " + std::to_string(tokens_[i]) + " is outside the vocabulary of " +
                        std::to_string(context->n_vocab) + " tokens");
        }
        if (!seq_ok(seq_ids_[i])) {
            invalid(env, "ERR_INVALID_TOKENS", "invalid sequence id " + std::to_string(seq_ids_[i]));
        }
        if (positions_[i] < 0 || (uint32_t) positions_[i] >= context->n_ctx) {
            invalid(env, "ERR_CONTEXT_OVERFLOW",
                    "position " + std::to_string(positions_[i]) + " does not fit the context of " +
                        std::to_string(context->n_ctx) + " tokens");
        }
        in_batch.insert(seq_ids_[i]);
    }
    std::unordered_set<int32_t> marked;
    for (int32_t r : rows_) {
        if (!context->rows_ok) {
            invalid(env, "ERR_INVALID_OPTION", "this context does not return hidden states at marked tokens");
        }
        if (r < 0 || (size_t) r >= tokens_.size() || !marked.insert(r).second) {
            invalid(env, "ERR_INVALID_TOKENS",
                    "marked row " + std::to_string(r) + " is not a distinct token of this step");
        }
    }
    for (int32_t s : outputs_) {
        if (in_batch.count(s) == 0) {
            invalid(env, "ERR_INVALID_TOKENS", "output sequence " + std::to_string(s) + " has no token in this step");
        }
    }
}

void ContextDecodeWorker::Execute() {
    log_capture_clear();
    llama_context * ctx = context_->ctx;
    llama_memory_t  mem = llama_get_memory(ctx);
    for (llama_seq_id s : remove_) {
        llama_memory_seq_rm(mem, s, -1, -1);
    }
    for (size_t i = 0; i < copies_.size(); i += 4) {
        llama_memory_seq_cp(mem, copies_[i], copies_[i + 1], copies_[i + 2], copies_[i + 3]);
    }
    if (tokens_.empty()) {
        return;
    }

    const int32_t n     = (int32_t) tokens_.size();
    llama_batch   batch = llama_batch_init(n, 0, 1);

    // Only each sequence's last token in this step is an output: the reward reads nothing else, so the
    // patched llama.cpp runs the last layer's FFN on those rows alone (every token otherwise).
    std::unordered_map<int32_t, int32_t> last_of_seq;
    for (int32_t i = 0; i < n; i++) {
        batch.token[i]     = tokens_[i];
        batch.pos[i]       = positions_[i];
        batch.n_seq_id[i]  = 1;
        batch.seq_id[i][0] = seq_ids_[i];
        batch.logits[i]    = 0;
        auto it            = last_of_seq.find(seq_ids_[i]);
        if (it == last_of_seq.end() || positions_[i] >= positions_[it->second]) {
            last_of_seq[seq_ids_[i]] = i;
        }
    }
    for (const auto & entry : last_of_seq) {
        batch.logits[entry.second] = 1;
    }
    // Marked tokens are outputs too: their final-norm hidden states are read below (patch 0011 keeps them).
    for (int32_t r : rows_) {
        batch.logits[r] = 1;
    }
    batch.n_tokens   = n;
    const int32_t rc = llama_decode(ctx, batch);
    llama_batch_free(batch);
    if (rc != 0) {
        const std::string why = log_capture_take();
        if (rc == 1) {
            fail("ERR_CONTEXT_OVERFLOW",
                 "llama_decode found no room in the KV cache" + (why.empty() ? std::string() : ": " + why));
        } else {
            SetError("llama_decode failed with status " + std::to_string(rc) +
                     (why.empty() ? std::string() : ": " + why));
        }
        return;
    }

    const uint32_t n_cls = context_->n_cls_out;
    result_.resize(outputs_.size() * n_cls);
    for (size_t i = 0; i < outputs_.size(); i++) {
        const float * reward = llama_get_embeddings_seq(ctx, outputs_[i]);
        if (reward == nullptr) {
            SetError("llama.cpp returned no pooled output for sequence " + std::to_string(outputs_[i]));
            return;
        }
        std::copy(reward, reward + n_cls, result_.begin() + i * n_cls);
    }
    const size_t n_embd = context_->n_embd;
    result_.resize(outputs_.size() * n_cls + rows_.size() * n_embd);
    for (size_t i = 0; i < rows_.size(); i++) {
        const float * hidden = llama_get_embeddings_ith(ctx, rows_[i]);
        if (hidden == nullptr) {
            SetError("llama.cpp returned no hidden state for marked token " + std::to_string(rows_[i]));
            return;
        }
        std::copy(hidden, hidden + n_embd, result_.begin() + outputs_.size() * n_cls + i * n_embd);
    }
}

void ContextDecodeWorker::settling() {
    context_->step_finished();  // also on failure: the context takes the next step either way
}

Napi::Value ContextDecodeWorker::result(Napi::Env env) {
    Napi::Float32Array out = Napi::Float32Array::New(env, result_.size());
    std::copy(result_.begin(), result_.end(), out.Data());
    return out;
}
