// The training iteration, checkpoints and sample grids of trainer.h.
#include "trainer.h"

#include <cmath>

#include "engine/autograd/engine.h"
#include "engine/autograd/grad_mode.h"
#include "engine/backend.h"
#include "engine/ops.h"
#include "fid.h"
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

double finite_or_throw(const Tensor& t, const char* what, int64_t iteration) {
  const double v = t.item();
  if (!std::isfinite(v))
    throw Diverged("iteration " + std::to_string(iteration) + ": the " + what + " is " + (std::isnan(v) ? "NaN" : "infinite") +
                   "; training stopped before the optimiser step");
  return v;
}

void set_grads(const std::vector<Tensor>& params, const std::vector<Tensor>& grads) {
  for (size_t i = 0; i < params.size(); ++i) params[i].set_grad(grads[i].defined() ? grads[i].detach() : zeros_like(params[i]));
}

void add_optimizer(SafeTensors& st, const std::string& prefix, const nn::Module& m, Adam& opt) {
  const auto named = m.named_parameters();
  for (size_t i = 0; i < named.size(); ++i) {
    st.add(prefix + named[i].first + ".exp_avg", opt.exp_avg()[i]);
    st.add(prefix + named[i].first + ".exp_avg_sq", opt.exp_avg_sq()[i]);
    st.add(prefix + named[i].first + ".step", scalar(double(opt.steps()[i]), DType::F64), "I64");
  }
}

void load_optimizer(const SafeTensors& st, const std::string& prefix, const nn::Module& m, Adam& opt,
                    const std::string& path) {
  const auto named = m.named_parameters();
  for (size_t i = 0; i < named.size(); ++i) {
    const std::string k = prefix + named[i].first;
    MMGAN_CHECK(st.contains(k + ".exp_avg") && st.contains(k + ".exp_avg_sq") && st.contains(k + ".step"), path,
                ": checkpoint lacks the optimiser state of ", named[i].first);
    opt.exp_avg()[i].copy_(st.at(k + ".exp_avg"));
    opt.exp_avg_sq()[i].copy_(st.at(k + ".exp_avg_sq"));
    opt.steps()[i] = int64_t(st.at(k + ".step").item());
  }
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

}  // namespace

Trainer::Trainer(TrainConfig cfg, std::shared_ptr<const data::Dataset> dataset)
    : cfg_(std::move(cfg)), device_(Device::parse(cfg_.device)), rng_(noise_seed(cfg_.seed)) {
  cfg_.resolve();
  (void)backend_for(device_);  // fail before loading data when the device does not exist
  dtype_ = cfg_.dtype == "float64" ? DType::F64 : DType::F32;
  data_ = dataset ? std::move(dataset) : load_dataset(cfg_);
  const Shape want{cfg_.n_colors, cfg_.image_size, cfg_.image_size};
  MMGAN_CHECK(data_->sample_shape == want, "data set ", data_->name, " (", data_->source, ") has samples ",
              shape_str(data_->sample_shape), " but the networks expect ", shape_str(want),
              " (check --image_size and --n_colors)");
  MMGAN_CHECK(data_->count >= cfg_.batch_size, "data set ", data_->name, " (", data_->source, ") has ", data_->count,
              " samples, fewer than --batch_size ", cfg_.batch_size);
  real_ = std::make_unique<data::Prefetcher>(*data_, cfg_.batch_size, data_seed(cfg_.seed));

  Generator init(init_seed(cfg_.seed));
  nn::NetConfig net = cfg_.net();
  net.dtype = DType::F64;  // initialise in float64 so float32 and float64 runs start from the same draws
  G_ = nn::make_generator(net, init);
  D_ = nn::make_discriminator(net, init);
  if (dtype_ != DType::F64) G_->to(dtype_), D_->to(dtype_);
  // Initialised on the CPU, then moved: a CUDA run starts from the same weights as a CPU run.
  G_->to(device_), D_->to(device_);
  optD_ = std::make_unique<Adam>(D_->parameters(), AdamOptions{cfg_.lr_D, cfg_.beta1, cfg_.beta2, 1e-8, cfg_.weight_decay});
  optG_ = std::make_unique<Adam>(G_->parameters(), AdamOptions{cfg_.lr_G, cfg_.beta1, cfg_.beta2, 1e-8, cfg_.weight_decay});
  z_test_ = randn({cfg_.n_samples, cfg_.z_size, 1, 1}, init, dtype_, device_);
  lagrange_ = cfg_.penalty.lambda;
}

Trainer::~Trainer() = default;

Tensor Trainer::next_real() { return real_->next().to(device_).to(dtype_); }

Tensor Trainer::noise(int64_t n) { return randn({n, cfg_.z_size, 1, 1}, rng_, dtype_, device_); }

Tensor Trainer::critic(const Tensor& x) { return (*D_)(x); }

StepStats Trainer::step(SafeTensors* capture) {
  using namespace losses;
  StepStats s;
  const int64_t B = cfg_.batch_size;
  const int64_t it = iteration_;
  if (capture) {
    MMGAN_CHECK(cfg_.Diters == 1 && cfg_.Giters == 1, "step-dump records one D and one G step: use --Diters 1 --Giters 1");
    capture->add_all(G_->state_dict(), "G.");
    capture->add_all(D_->state_dict(), "D.");
  }
  const std::vector<Tensor> d_params = D_->parameters(), g_params = G_->parameters();

  Tensor x_real, z_d;
  for (int64_t t = 0; t < cfg_.Diters; ++t) {
    optD_->zero_grad();
    x_real = next_real();
    const Tensor c_real = critic(x_real);
    const Tensor z = noise(B);
    z_d = z;
    Tensor x_fake;
    {
      NoGradGuard ng;
      x_fake = (*G_)(z);
    }
    const Tensor c_fake = critic(x_fake);
    const Tensor errD = d_loss(cfg_.loss, c_real, c_fake);
    Tensor total = errD;
    Tensor u;
    PenaltyTerms pen;
    if (cfg_.penalty.enabled) {
      u = rand({B, 1, 1, 1}, rng_, dtype_, device_);
      const Tensor xhat = penalty_points(x_real, x_fake, u, cfg_.penalty.where);
      pen = gradient_penalty([this](const Tensor& x) { return critic(x); }, xhat, cfg_.penalty, lagrange_);
      total = total + pen.loss;
    }
    s.loss_D = finite_or_throw(errD, "D loss", it);
    if (pen.loss.defined()) {
      s.penalty = finite_or_throw(pen.constraint, "gradient penalty", it);
      const std::vector<double> n = pen.grad_norm.to_vector();
      double sum = 0, mx = 0;
      for (double v : n) sum += v, mx = std::max(mx, v);
      s.grad_norm_mean = sum / double(n.size());
      s.grad_norm_max = mx;
    }
    const std::vector<Tensor> gD = grad({total}, d_params, {}, GradOptions{false, -1, true});
    set_grads(d_params, gD);
    if (capture) {
      capture->add("x_real", x_real);
      capture->add("z_D", z);
      if (u.defined()) capture->add("u", u);
      capture->add("loss_D", errD.detach());
      if (pen.loss.defined()) {
        capture->add("penalty", pen.constraint.detach());
        capture->add("penalty_term", pen.loss.detach());
      }
      const auto named = D_->named_parameters();
      for (size_t i = 0; i < named.size(); ++i) capture->add("grad.D." + named[i].first, gD[i].defined() ? gD[i] : zeros_like(named[i].second));
    }
    optD_->step();
    if (cfg_.penalty.enabled && cfg_.penalty.augmented) lagrange_ -= cfg_.penalty.rho * s.penalty;
  }
  if (capture) capture->add_all(D_->state_dict(), "D_after.");

  for (int64_t t = 0; t < cfg_.Giters; ++t) {
    optG_->zero_grad();
    Tensor x_real_g = x_real;
    // Without resampling the official code reuses the D step's z (and real batch).
    const Tensor z = cfg_.resample ? noise(B) : z_d;
    if (relativistic(cfg_.loss) && cfg_.resample) x_real_g = next_real();
    const Tensor fake = (*G_)(z);
    const Tensor c_fake = critic(fake);
    Tensor c_real;
    if (relativistic(cfg_.loss)) {
      NoGradGuard ng;  // C(x_real) does not depend on G
      c_real = critic(x_real_g);
    }
    const Tensor errG = g_loss(cfg_.loss, c_real, c_fake);
    s.loss_G = finite_or_throw(errG, "G loss", it);
    const std::vector<Tensor> gG = grad({errG}, g_params, {}, GradOptions{false, -1, true});
    set_grads(g_params, gG);
    if (capture) {
      capture->add("z_G", z);
      if (relativistic(cfg_.loss)) capture->add("x_real_G", x_real_g);
      capture->add("loss_G", errG.detach());
      const auto named = G_->named_parameters();
      for (size_t i = 0; i < named.size(); ++i) capture->add("grad.G." + named[i].first, gG[i]);
    }
    optG_->step();
  }
  // ExponentialLR(gamma = 1 - decay), stepped once per iteration as the official code does.
  optD_->options().lr *= 1 - cfg_.decay;
  optG_->options().lr *= 1 - cfg_.decay;
  ++iteration_;
  return s;
}

std::pair<double, double> Trainer::margins() {
  const BufferSnapshot keep_d(*D_), keep_g(*G_);
  // Batches from their own streams, so the metric never moves the training data or noise.
  const Tensor x = data_->gather(data::BatchSampler(data_->count, cfg_.batch_size, data_seed(cfg_.seed) + 1)
                                     .indices(uint64_t(iteration_)))
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
  const BufferSnapshot keep(*G_);
  // The same z at every evaluation (its own stream), so successive values differ by G alone.
  const eval::GaussianStats s =
      generator_stats(*G_, cfg_.z_size, dtype_, device_, fx, n, cfg_.batch_size, fid_seed(cfg_.seed), false);
  return eval::frechet_distance(s, ref);
}

void Trainer::save_samples(const std::string& png_path) {
  // G in train mode, as the official code samples; its running statistics are restored after.
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
  st.metadata["rng_offset"] = std::to_string(rng_.offset());
  st.metadata["data_position"] = std::to_string(real_->position());
  st.metadata["lr_D"] = exact_text(optD_->options().lr);
  st.metadata["lr_G"] = exact_text(optG_->options().lr);
  st.metadata["lagrange"] = exact_text(lagrange_);
  return st;
}

void Trainer::save_checkpoint(const std::string& path) const { save_safetensors(path, checkpoint()); }

void Trainer::load_checkpoint(const std::string& path) {
  const SafeTensors st = load_safetensors(path);
  MMGAN_CHECK(meta(st, "format", path) == kCheckpointFormat, path, ": unknown checkpoint format '",
              meta(st, "format", path), "'");
  G_->load_state_dict(st, "G.", true);
  D_->load_state_dict(st, "D.", true);
  load_optimizer(st, "optG.", *G_, *optG_, path);
  load_optimizer(st, "optD.", *D_, *optD_, path);
  z_test_.copy_(st.at("z_test"));
  iteration_ = std::stoll(meta(st, "iteration", path));
  rng_.set_state(std::stoull(meta(st, "rng_seed", path)), std::stoull(meta(st, "rng_offset", path)));
  real_->seek(std::stoull(meta(st, "data_position", path)));
  optD_->options().lr = std::stod(meta(st, "lr_D", path));
  optG_->options().lr = std::stod(meta(st, "lr_G", path));
  lagrange_ = std::stod(meta(st, "lagrange", path));
}

}  // namespace mmgan::trainer
