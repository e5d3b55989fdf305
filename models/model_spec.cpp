#include "models/model_spec.hpp"

namespace clustercost {

bool ModelSpec::layer_is_moe(int i) const {
  if (!moe) return false;
  if (i < moe->first_dense_layers) return false;
  return (i - moe->first_dense_layers) % moe->layer_freq == 0;
}

}  // namespace clustercost
