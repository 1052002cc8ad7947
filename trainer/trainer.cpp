// The training iteration, checkpoints and sample grids of trainer.h.
#include "trainer/trainer.h"

#include <cerrno>
#include <cstdlib>

#include <cmath>

#include "engine/autograd/engine.h"
#include "engine/autograd/grad_mode.h"
#include "engine/backend.h"
#include "engine/distributed.h"
#include "engine/ops.h"
#include "trainer/distributed.h"
#include "trainer/fid.h"
#include "trainer/memory_estimate.h"
#include "losses/gan_loss.h"
#include "losses/gradient_penalty.h"
#include "models/networks.h"

namespace mmgan::trainer {

namespace {

constexpr const char* kCheckpointFormat = "mmgan-checkpoint-1";

// Distinct streams from the one seed: initialisation, training noise, batch order.
uint64_t init_seed(int64_t seed) { return uint64_t(seed); }
uint64_t noise_seed(int64_t seed) { return uint64_t(seed) ^ 0x9E3779B97F4A7C15ull; }
uint64_t data_seed(int64_t seed) { return uint64_t(seed) ^ 0xD1B54A32D192ED03ull; }
uint64_t fid_seed(int64_t seed) { return uint64_t(seed) ^ 0x94D049BB133111EBull; }

void set_grads(const std::vector<Tensor>& params, const std::vector<Tensor>& grads) {
  for (size_t i = 0; i < params.size(); ++i)
    params[i].set_grad(grads[i].defined() ? grads[i].detach() : zeros_like(params[i]));
}

void add_optimizer(SafeTensors& st, const std::string& prefix, const nn::Module& m, Adam& opt) {
  const auto named = m.named_parameters();
  const std::vector<int64_t> steps = opt.steps();
  for (size_t i = 0; i < named.size(); ++i) {
    st.add(prefix + named[i].first + ".exp_avg", opt.exp_avg()[i]);
    st.add(prefix + named[i].first + ".exp_avg_sq", opt.exp_avg_sq()[i]);
    st.add(prefix + named[i].first + ".step", scalar(double(steps[i]), DType::F64), "I64");
  }
}

void load_optimizer(const SafeTensors& st, const std::string& prefix, const nn::Module& m, Adam& opt,
                    const std::string& path, int64_t max_steps) {
  const auto named = m.named_parameters();
  std::vector<int64_t> steps(named.size());
  for (size_t i = 0; i < named.size(); ++i) {
    const std::string k = prefix + named[i].first;
    MMGAN_CHECK(st.contains(k + ".exp_avg") && st.contains(k + ".exp_avg_sq") && st.contains(k + ".step"), path,
                ": checkpoint lacks the optimiser state of ", named[i].first);
    const Tensor &m1 = st.at(k + ".exp_avg"), &m2 = st.at(k + ".exp_avg_sq"), &step = st.at(k + ".step");
    MMGAN_CHECK(m1.shape() == named[i].second.shape() && m2.shape() == named[i].second.shape(), path,
                ": the optimiser state of ", named[i].first, " has shape ", shape_str(m1.shape()), " / ",
                shape_str(m2.shape()), ", the parameter ", shape_str(named[i].second.shape()));
    MMGAN_CHECK(step.numel() == 1, path, ": '", k, ".step' has shape ", shape_str(step.shape()), ", not one count");
    for (const double v : m1.to_vector()) MMGAN_CHECK(std::isfinite(v), path, ": '", k, ".exp_avg' is not finite");
    for (const double v : m2.to_vector())
      MMGAN_CHECK(std::isfinite(v) && v >= 0, path, ": '", k, ".exp_avg_sq' is not finite and >= 0");
    const double s = step.item();
    MMGAN_CHECK(s >= 0 && s <= double(max_steps) && s == std::floor(s), path, ": '", k, ".step' is ", s,
                ", not a step count in [0, ", max_steps, "]");
    opt.exp_avg()[i].copy_(m1);
    opt.exp_avg_sq()[i].copy_(m2);
    steps[i] = int64_t(s);
  }
  opt.set_steps(steps);
}

// Restores a module's buffers (BatchNorm running statistics, spectral-norm u and v) when it goes
// out of scope: metrics and sample grids run the networks in train mode without changing the run.
class BufferSnapshot {
 public:
  explicit BufferSnapshot(const nn::Module& m) : buffers_(m.named_buffers()) {
    for (const auto& b : buffers_) saved_.push_back(b.second.clone());
  }
  ~BufferSnapshot() {
    for (size_t i = 0; i < buffers_.size(); ++i) buffers_[i].second.copy_(saved_[i]);
  }

 private:
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<Tensor> saved_;
};

std::string meta(const SafeTensors& st, const std::string& key, const std::string& path) {
  const auto it = st.metadata.find(key);
  MMGAN_CHECK(it != st.metadata.end(), path, ": not an mmgan checkpoint (metadata '", key, "' missing)");
  return it->second;
}

// Checkpoint counters are decimal integers in [0, max]: no sign, no spaces, nothing after.
uint64_t meta_count(const SafeTensors& st, const std::string& key, const std::string& path, uint64_t max) {
  const std::string v = meta(st, key, path);
  uint64_t r = 0;
  bool ok = !v.empty() && v.size() <= 20;
  for (const char ch : v) ok = ok && ch >= '0' && ch <= '9';
  if (ok) {
    errno = 0;
    r = std::strtoull(v.c_str(), nullptr, 10);
    ok = errno == 0 && r <= max;
  }
  MMGAN_CHECK(ok, path, ": metadata '", key, "' is '", v, "', not an integer in [0, ", max, "]");
  return r;
}

// A finite real number, written by exact_text.
double meta_real(const SafeTensors& st, const std::string& key, const std::string& path) {
  const std::string v = meta(st, key, path);
  char* end = nullptr;
  const double r = std::strtod(v.c_str(), &end);
  MMGAN_CHECK(!v.empty() && end == v.c_str() + v.size() && std::isfinite(r), path, ": metadata '", key, "' is '", v,
              "', not a finite number");
  return r;
}

}  // namespace

Trainer::Trainer(TrainConfig cfg, std::shared_ptr<const data::Dataset> dataset)
    : cfg_(std::move(cfg)), device_(rank_device(cfg_.device)), rng_(noise_seed(cfg_.seed)) {
  cfg_.resolve();
  const int64_t local_batch = local_batch_size(cfg_.batch_size);  // before anything starts
  (void)backend_for(device_);           // fail before loading data when the device does not exist
  check_memory(estimate_memory(cfg_));  // refuse what cannot fit before allocating any of it
  dtype_ = cfg_.dtype == "float64" ? DType::F64 : DType::F32;
  data_ = dataset ? std::move(dataset) : load_dataset(cfg_);
  const Shape want{cfg_.n_colors, cfg_.image_size, cfg_.image_size};
  MMGAN_CHECK(data_->sample_shape == want, "data set ", data_->name, " (", data_->source, ") has samples ",
              shape_str(data_->sample_shape), " but the networks expect ", shape_str(want),
              " (check --image_size and --n_colors)");
  MMGAN_CHECK(data_->count >= cfg_.batch_size, "data set ", data_->name, " (", data_->source, ") has ", data_->count,
              " samples, fewer than --batch_size ", cfg_.batch_size);
  real_ =
      std::make_unique<data::Prefetcher>(*data_, cfg_.batch_size, data_seed(cfg_.seed), 2, world_rank(), world_size());

  Generator init(init_seed(cfg_.seed));
  nn::NetConfig net = cfg_.net();
  net.dtype = DType::F64;  // initialise in float64 so float32 and float64 runs start from the same draws
  G_ = nn::make_generator(net, init);
  D_ = nn::make_discriminator(net, init);
  if (dtype_ != DType::F64) G_->to(dtype_), D_->to(dtype_);
  // Initialised on the CPU, then moved: a CUDA run starts from the same weights as a CPU run.
  G_->to(device_), D_->to(device_);
  optD_ =
      std::make_unique<Adam>(D_->parameters(), AdamOptions{cfg_.lr_D, cfg_.beta1, cfg_.beta2, 1e-8, cfg_.weight_decay});
  optG_ =
      std::make_unique<Adam>(G_->parameters(), AdamOptions{cfg_.lr_G, cfg_.beta1, cfg_.beta2, 1e-8, cfg_.weight_decay});
  reduce_D_ = std::make_unique<GradientReducer>(D_->parameters());
  reduce_G_ = std::make_unique<GradientReducer>(G_->parameters());
  z_test_ = randn({cfg_.n_samples, cfg_.z_size, 1, 1}, init, dtype_, device_);

  // The iteration's inputs and device-side state, made once: a captured iteration reads and
  // writes these same tensors on every replay.
  const int64_t batches = cfg_.Diters + (relativistic(cfg_.loss) && cfg_.resample ? cfg_.Giters : 0);
  for (int64_t k = 0; k < batches; ++k) {
    real_in_.push_back(empty({local_batch, cfg_.n_colors, cfg_.image_size, cfg_.image_size}, dtype_, device_));
    staging_.push_back(std::make_unique<Staging>(real_in_.back()));
  }
  rng_base_ = zeros({}, DType::F64, device_);
  rng_.bind_base(rng_base_);
  lagrange_ = scalar(cfg_.penalty.lambda, DType::F64, device_);
  iter_dev_ = zeros({}, DType::F64, device_);
  bad_iter_ = full({}, -1.0, DType::F64, device_);
  bad_vals_ = zeros({3}, DType::F64, device_);
  last_ = zeros({6}, DType::F64, device_);
}

Trainer::~Trainer() = default;

void Trainer::stage_inputs() {
  for (auto& s : staging_) s->stage(real_->next());
}

// Drawn for the whole batch, then this rank's rows (distributed.h).
Tensor Trainer::noise(int64_t n) { return shard(randn({n, cfg_.z_size, 1, 1}, rng_, dtype_, device_)); }

Tensor Trainer::critic(const Tensor& x) { return (*D_)(x); }

void Trainer::step(StepObserver* observer) {
  MMGAN_CHECK(!observer || world_size() == 1, "an observed step (step-dump) runs in one process, not under mpirun");
  static StepObserver none;
  stage_inputs();
  if (observer || !cfg_.graph_on()) {
    compute(observer ? *observer : none);
  } else if (captured_) {
    captured_->replay();
  } else if (!warmed_) {
    compute(none);  // the first iteration runs eagerly: cuDNN picks its algorithms, Adam its state
    warmed_ = true;
  } else {
    captured_ = std::make_unique<CapturedStep>(device_, [this] { compute(none); });
    captured_->replay();
  }
  ++iteration_;
}

void Trainer::compute(StepObserver& observer) {
  using namespace losses;
  const int64_t B = cfg_.batch_size;
  observer.before(*this);
  const std::vector<Tensor> d_params = D_->parameters(), g_params = G_->parameters();
  rng_.set_state(rng_.seed(), 0);  // this iteration's draws, relative to the position in rng_base_
  size_t batch = 0;
  Tensor x_real, z_d, loss_D, loss_G, constraint, grad_norm;
  for (int64_t t = 0; t < cfg_.Diters; ++t) {
    optD_->zero_grad();
    x_real = real_in_[batch++];
    const Tensor c_real = critic(x_real);
    const Tensor z = noise(B);
    z_d = z;
    Tensor x_fake;
    {
      NoGradGuard ng;
      x_fake = (*G_)(z);
    }
    const Tensor c_fake = critic(x_fake);
    const Tensor errD = d_loss(cfg_.loss, all_gather(c_real), all_gather(c_fake));  // the whole batch's
    Tensor total = errD;
    Tensor u;
    PenaltyTerms pen;
    if (cfg_.penalty.enabled) {
      Tensor xhat;
      if (cfg_.penalty.where == GpWhere::Interpolate && world_size() == 1) {
        xhat = random_interpolate(x_real, x_fake, rng_, &u);  // one kernel; the same numbers as below
      } else {
        u = shard(rand({B, 1, 1, 1}, rng_, dtype_, device_));  // drawn anyway, as the official code does
        xhat = penalty_points(x_real, x_fake, u, cfg_.penalty.where);
      }
      pen = gradient_penalty([this](const Tensor& x) { return critic(x); }, xhat, cfg_.penalty, lagrange_);
      total = total + pen.loss;
      constraint = pen.constraint.detach();
      grad_norm = pen.grad_norm;
    }
    loss_D = errD.detach();
    const std::vector<Tensor> gD = grad({total}, d_params, {replicated_loss_seed(total)}, GradOptions{false, -1, true});
    set_grads(d_params, gD);
    reduce_D_->reduce();
    observer.critic_step(*this, {x_real, z, u, loss_D, constraint, pen.loss, gD});
    optD_->step();
    if (cfg_.penalty.enabled && cfg_.penalty.augmented) {
      NoGradGuard ng;
      lagrange_.copy_(lagrange_ - constraint.to(DType::F64) * cfg_.penalty.rho);
    }
  }
  observer.critic_updated(*this);

  for (int64_t t = 0; t < cfg_.Giters; ++t) {
    optG_->zero_grad();
    Tensor x_real_g = x_real;
    // Without resampling the official code reuses the D step's z (and real batch).
    const Tensor z = cfg_.resample ? noise(B) : z_d;
    if (relativistic(cfg_.loss) && cfg_.resample) x_real_g = real_in_[batch++];
    const Tensor fake = (*G_)(z);
    const Tensor c_fake = critic(fake);
    Tensor c_real;
    if (relativistic(cfg_.loss)) {
      NoGradGuard ng;  // C(x_real) does not depend on G
      c_real = critic(x_real_g);
    }
    const Tensor errG = g_loss(cfg_.loss, c_real.defined() ? all_gather(c_real) : c_real, all_gather(c_fake));
    loss_G = errG.detach();
    const std::vector<Tensor> gG = grad({errG}, g_params, {replicated_loss_seed(errG)}, GradOptions{false, -1, true});
    set_grads(g_params, gG);
    reduce_G_->reduce();
    const Tensor no_real;
    observer.generator_step(*this, {z, relativistic(cfg_.loss) ? x_real_g : no_real, loss_G, gG});
    optG_->step();
  }

  NoGradGuard ng;
  // ExponentialLR(gamma = 1 - decay), stepped once per iteration as the official code does.
  if (cfg_.decay != 0) {
    optD_->scale_lr(1 - cfg_.decay);
    optG_->scale_lr(1 - cfg_.decay);
  }
  rng_base_.copy_(rng_base_ + double(rng_.offset()));

  // Metrics, and the first non-finite loss: kept on the device until someone asks.
  const auto f64 = [](const Tensor& t) { return t.reshape({1}).to(DType::F64); };
  const Tensor none = zeros({1}, DType::F64, device_);
  const Tensor pen = constraint.defined() ? f64(constraint) : none;
  const Tensor d = f64(loss_D), g = f64(loss_G);
  const bool norms = grad_norm.defined();
  last_.copy_(concat({d, g, pen, norms ? f64(mean(grad_norm)) : none, norms ? f64(amax(grad_norm)) : none,
                      norms ? f64(mean(gt(grad_norm, 1.0))) : none},
                     0));
  const Tensor vals = concat({d, pen, g}, 0);
  const Tensor fresh = rsub(1.0, lt(abs(sum(vals)), INFINITY)) * lt(bad_iter_, 0.0);  // 1: first non-finite
  bad_iter_.copy_(where(fresh, iter_dev_, bad_iter_));
  bad_vals_.copy_(where(fresh.expand({3}), vals, bad_vals_));
  iter_dev_.copy_(iter_dev_ + 1.0);
}

StepStats Trainer::stats() const {
  const std::vector<double> v = last_.to_vector();
  return StepStats{v[0], v[1], v[2], v[3], v[4], v[5]};
}

void Trainer::check_finite() const {
  const double at = bad_iter_.item();
  if (at < 0) return;
  const std::vector<double> v = bad_vals_.to_vector();
  const char* names[3] = {"D loss", "gradient penalty", "G loss"};
  size_t k = 0;
  while (k < 2 && std::isfinite(v[k])) ++k;
  throw Diverged("iteration " + std::to_string(int64_t(at)) + ": the " + names[k] + " is " +
                 (std::isnan(v[k]) ? "NaN" : "infinite") + "; training stopped");
}

std::pair<double, double> Trainer::margins() {
  const LocalScope alone;  // rank 0's metric, computed as one process would
  const BufferSnapshot keep_d(*D_), keep_g(*G_);
  // Batches from their own streams, so the metric never moves the training data or noise.
  const Tensor x =
      data_
          ->gather(
              data::BatchSampler(data_->count, cfg_.batch_size, data_seed(cfg_.seed) + 1).indices(uint64_t(iteration_)))
          .to(device_)
          .to(dtype_);
  Tensor fake;
  {
    NoGradGuard ng;
    Generator g(noise_seed(cfg_.seed) + 1 + uint64_t(iteration_));  // its own stream: never advances rng_
    fake = (*G_)(randn({cfg_.batch_size, cfg_.z_size, 1, 1}, g, dtype_, device_));
  }
  const auto f = [this](const Tensor& t) { return critic(t); };
  const double mr = losses::pseudo_margin(f, x, 1.0, cfg_.penalty.norm).mean().item();
  const double mf = losses::pseudo_margin(f, fake, -1.0, cfg_.penalty.norm).mean().item();
  return {mr, mf};
}

eval::FrechetResult Trainer::fid(eval::FeatureExtractor& fx, const eval::GaussianStats& ref, int64_t n) {
  const LocalScope alone;
  const BufferSnapshot keep(*G_);
  // The same z at every evaluation (its own stream), so successive values differ by G alone.
  const eval::GaussianStats s =
      generator_stats(*G_, cfg_.z_size, dtype_, device_, fx, n, cfg_.batch_size, fid_seed(cfg_.seed), false);
  return eval::frechet_distance(s, ref);
}

void Trainer::save_samples(const std::string& png_path) {
  // G in train mode, as the official code samples; its running statistics are restored after.
  const LocalScope alone;
  Tensor x;
  {
    const BufferSnapshot keep(*G_);
    NoGradGuard ng;
    x = (*G_)(z_test_);
  }
  save_image_grid(x, png_path);
}

SafeTensors Trainer::checkpoint() const {
  SafeTensors st;
  st.add_all(G_->state_dict(), "G.");
  st.add_all(D_->state_dict(), "D.");
  add_optimizer(st, "optG.", *G_, *optG_);
  add_optimizer(st, "optD.", *D_, *optD_);
  st.add("z_test", z_test_);
  st.metadata["format"] = kCheckpointFormat;
  st.metadata["config"] = to_json(cfg_);
  st.metadata["iteration"] = std::to_string(iteration_);
  st.metadata["rng_seed"] = std::to_string(rng_.seed());
  st.metadata["rng_offset"] = std::to_string(uint64_t(rng_base_.item()));
  st.metadata["data_position"] = std::to_string(real_->position());
  st.metadata["lr_D"] = exact_text(optD_->lr());
  st.metadata["lr_G"] = exact_text(optG_->lr());
  st.metadata["lagrange"] = exact_text(lagrange_.item());
  return st;
}

void Trainer::save_checkpoint(const std::string& path) const {
  const SafeTensors st = checkpoint();
  // A run can blow up in its weights (inf running variances) while its losses still look finite:
  // such a checkpoint would diverge at once when resumed, so it is never written.
  for (const std::string& name : st.names)
    for (const double v : st.at(name).to_vector())
      if (!std::isfinite(v))
        throw Diverged("iteration " + std::to_string(iteration_) + ": '" + name + "' holds a non-finite value (" +
                       std::to_string(v) + "); the checkpoint " + path + " was not written");
  for (const auto& [key, value] : st.metadata)
    if (key == "lagrange" || key == "lr_D" || key == "lr_G")
      if (!std::isfinite(std::stod(value)))
        throw Diverged("iteration " + std::to_string(iteration_) + ": " + key + " is " + value + "; the checkpoint " +
                       path + " was not written");
  save_safetensors(path, st);
}

TrainConfig checkpoint_config(const SafeTensors& st, const std::string& path) {
  const auto it = st.metadata.find("config");
  MMGAN_CHECK(it != st.metadata.end(), path, ": not an mmgan checkpoint (no configuration in its metadata)");
  return config_from_json(it->second, path + " (metadata 'config')");
}

void Trainer::load_checkpoint(const std::string& path) { load_checkpoint(load_safetensors(path), path); }

void Trainer::load_checkpoint(const SafeTensors& st, const std::string& path) {
  MMGAN_CHECK(meta(st, "format", path) == kCheckpointFormat, path, ": unknown checkpoint format '",
              meta(st, "format", path), "'");
  // The metadata are all read and checked first, with errors naming the file and the key.
  constexpr uint64_t kMax = uint64_t(1) << 53;  // exact in the float64 counters on the device
  const int64_t iteration = int64_t(meta_count(st, "iteration", path, kMax));
  const uint64_t seed = meta_count(st, "rng_seed", path, UINT64_MAX);
  const uint64_t offset = meta_count(st, "rng_offset", path, kMax);
  const uint64_t position = meta_count(st, "data_position", path, kMax);
  const double lr_D = meta_real(st, "lr_D", path), lr_G = meta_real(st, "lr_G", path);
  const double lagrange = meta_real(st, "lagrange", path);
  MMGAN_CHECK(lr_D > 0 && lr_G > 0, path, ": learning rates ", lr_D, " and ", lr_G, " are not positive");
  MMGAN_CHECK(st.contains("z_test") && st.at("z_test").shape() == z_test_.shape(), path,
              ": 'z_test' is missing or not of shape ", shape_str(z_test_.shape()));
  for (const double v : st.at("z_test").to_vector()) MMGAN_CHECK(std::isfinite(v), path, ": 'z_test' is not finite");
  try {
    G_->load_state_dict(st, "G.", true);
    D_->load_state_dict(st, "D.", true);
    load_optimizer(st, "optG.", *G_, *optG_, path, iteration * cfg_.Giters);
    load_optimizer(st, "optD.", *D_, *optD_, path, iteration * cfg_.Diters);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    if (what.find(path) != std::string::npos) throw;
    throw Error(path + ": " + what);
  }
  z_test_.copy_(st.at("z_test"));
  iteration_ = iteration;
  rng_.set_state(seed, 0);
  rng_base_.fill_(double(offset));
  real_->seek(position);
  optD_->set_lr(lr_D);
  optG_->set_lr(lr_G);
  lagrange_.fill_(lagrange);
  iter_dev_.fill_(double(iteration_));
  bad_iter_.fill_(-1.0);
  // Everything above was written in place, so a captured iteration would still be valid; it is
  // dropped anyway, so that loading never depends on that.
  captured_.reset();
}

}  // namespace mmgan::trainer
