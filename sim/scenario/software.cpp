#include "sim/scenario/software.hpp"

#include <algorithm>
#include <optional>
#include <vector>

#include "sim/common/input_error.hpp"

namespace clustercost {

const std::vector<std::string>& software_precision_classes() {
  static const std::vector<std::string> k = {"attention_proj", "mlp",      "experts", "shared_experts",
                                             "router",         "lm_head", "mtp_proj"};
  return k;
}

const std::vector<std::string>& software_presets() {
  static const std::vector<std::string> k = {"megatron-core", "megatron-lm-2021", "megatron-lm-2022",
                                             "deepseek-v3"};
  return k;
}

SoftwareConfig software_preset(const std::string& name) {
  SoftwareConfig s;
  s.preset = name;
  if (name == "megatron-lm-2021" || name == "megatron-lm-2022") {
    s.attention = "unfused";
    s.fused_softmax = true;
    s.fusions.cross_entropy = false;
    s.fusions.rope = false;
    s.overlap.dp_grad_reduce = false;
    s.overlap.dp_param_gather = false;
  } else if (name == "deepseek-v3") {
    // FlashAttention-3-style kernels where the GPU has them (H800 in the paper); "auto" lets the
    // same preset run as a what-if on GPUs without them (FlashAttention-2).
    s.attention = "auto";
    s.fp8_recipe = "tilewise";
    s.comm_sms = 20;
    s.wgrad_stream = true;
  }
  return s;
}

SoftwareConfig parse_software(std::optional<ObjectReader> r, int parallelism_comm_sms, int gpu_sms) {
  if (!r) {
    SoftwareConfig s = software_preset("megatron-core");
    if (parallelism_comm_sms >= 0) s.comm_sms = parallelism_comm_sms;
    return s;
  }
  std::string preset = "megatron-core";
  if (r->has("preset")) {
    preset = r->string("preset");
    const auto& all = software_presets();
    if (std::find(all.begin(), all.end(), preset) == all.end()) {
      std::string list;
      for (const auto& p : all) list += (list.empty() ? "" : ", ") + p;
      r->fail("preset", "expected one of " + list + ", got \"" + preset + "\"");
    }
  }
  SoftwareConfig s = software_preset(preset);
  s.attention = r->one_of_or("attention", {"auto", "flash1", "flash2", "flash3", "unfused"}, s.attention);
  s.fused_softmax = r->boolean_or("fused_softmax", s.fused_softmax);
  s.fp8_recipe = r->one_of_or("fp8_recipe", {"delayed", "tilewise"}, s.fp8_recipe);
  if (auto f = r->optional_object("fusions")) {
    s.fusions.norm = f->boolean_or("norm", s.fusions.norm);
    s.fusions.bias_act = f->boolean_or("bias_act", s.fusions.bias_act);
    s.fusions.bias_dropout_add = f->boolean_or("bias_dropout_add", s.fusions.bias_dropout_add);
    s.fusions.rope = f->boolean_or("rope", s.fusions.rope);
    s.fusions.cross_entropy = f->boolean_or("cross_entropy", s.fusions.cross_entropy);
    s.fusions.adam = f->boolean_or("adam", s.fusions.adam);
    f->finish();
  }
  if (r->has("comm_sms")) {
    const std::int64_t c = r->non_negative_integer_or("comm_sms", 0);
    if (parallelism_comm_sms >= 0 && c != parallelism_comm_sms)
      r->fail("comm_sms", "is " + std::to_string(c) + " but parallelism.comm_sms is " +
                              std::to_string(parallelism_comm_sms) + "; give one of them");
    if (c >= gpu_sms)
      r->fail("comm_sms", std::to_string(c) + " SMs reserved for communication leaves none of " +
                              std::to_string(gpu_sms) + " for compute");
    s.comm_sms = static_cast<int>(c);
  } else if (parallelism_comm_sms >= 0) {
    s.comm_sms = parallelism_comm_sms;
  }
  if (auto o = r->optional_object("overlap")) {
    s.overlap.dp_grad_reduce = o->boolean_or("dp_grad_reduce", s.overlap.dp_grad_reduce);
    s.overlap.dp_param_gather = o->boolean_or("dp_param_gather", s.overlap.dp_param_gather);
    s.overlap.tp_comm = o->boolean_or("tp_comm", s.overlap.tp_comm);
    o->finish();
  }
  s.wgrad_stream = r->boolean_or("wgrad_stream", s.wgrad_stream);
  if (auto p = r->optional_object("precision")) {
    for (const auto& cls : software_precision_classes())
      if (p->has(cls)) s.precision[cls] = p->one_of(cls, {"bf16", "fp8", "fp32"});
    p->finish();
  }
  r->finish();
  return s;
}

Json software_to_json(const SoftwareConfig& s) {
  Json prec = Json::object();
  for (const auto& [k, v] : s.precision) prec[k] = v;
  return {{"preset", s.preset},
          {"attention", s.attention},
          {"fused_softmax", s.fused_softmax},
          {"fp8_recipe", s.fp8_recipe},
          {"fusions",
           {{"norm", s.fusions.norm},
            {"bias_act", s.fusions.bias_act},
            {"bias_dropout_add", s.fusions.bias_dropout_add},
            {"rope", s.fusions.rope},
            {"cross_entropy", s.fusions.cross_entropy},
            {"adam", s.fusions.adam}}},
          {"comm_sms", s.comm_sms},
          {"overlap",
           {{"dp_grad_reduce", s.overlap.dp_grad_reduce},
            {"dp_param_gather", s.overlap.dp_param_gather},
            {"tp_comm", s.overlap.tp_comm}}},
          {"wgrad_stream", s.wgrad_stream},
          {"precision", prec}};
}

}  // namespace clustercost
