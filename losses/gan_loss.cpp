// The formulas of gan_loss.h. BCE_stable(x, 1) = mean softplus(-x), BCE_stable(x, 0) = mean
// softplus(x): the numerically stable forms PyTorch's BCEWithLogitsLoss computes.
#include "gan_loss.h"

#include <algorithm>
#include <cctype>

#include "engine/error.h"
#include "engine/ops.h"

namespace mmgan::losses {
namespace {

enum class Family { SGAN, LSGAN, Hinge, WGAN };

Family family(GanLoss l) {
  switch (int(l) % 10) {
    case 1: return Family::SGAN;
    case 2: return Family::LSGAN;
    case 3: return Family::Hinge;
    default: return Family::WGAN;
  }
}

// "Push up" and "push down" terms of a family, as means: the official code's f(y_pred, label 1)
// and f(y_pred, label 0) (for the relativistic variants with the label's sign folded in).
Tensor up(Family f, const Tensor& x) {
  switch (f) {
    case Family::SGAN: return mean(softplus(-x));
    case Family::LSGAN: return mean(square(x - 1.0));
    case Family::Hinge: return mean(relu(1.0 - x));
    case Family::WGAN: return -mean(x);
  }
  return {};
}
Tensor down(Family f, const Tensor& x) {
  switch (f) {
    case Family::SGAN: return mean(softplus(x));
    case Family::LSGAN: return mean(square(x + 1.0));
    case Family::Hinge: return mean(relu(1.0 + x));
    case Family::WGAN: return mean(x);
  }
  return {};
}

// All pairs a[i] - b[j] as an [N, M] matrix.
Tensor pairwise(const Tensor& a, const Tensor& b) { return unsqueeze(a, 1) - unsqueeze(b, 0); }

void check_outputs(const char* what, const Tensor& c_real, const Tensor& c_fake) {
  MMGAN_CHECK(c_fake.defined() && c_fake.dim() == 1, what, ": C(x_fake) must be [N], got ",
              c_fake.defined() ? c_fake.str() : std::string("undefined"));
  MMGAN_CHECK(c_real.defined() && c_real.dim() == 1, what, ": C(x_real) must be [N], got ",
              c_real.defined() ? c_real.str() : std::string("undefined"));
}

}  // namespace

std::vector<GanLoss> all_gan_losses() {
  using L = GanLoss;
  return {L::SGAN,   L::LSGAN,   L::Hinge,   L::WGAN,        L::RaSGAN,       L::RaLSGAN,
          L::RaHinge, L::RcSGAN, L::RcLSGAN, L::RcHinge,     L::RpSGAN,       L::RpLSGAN,
          L::RpHinge, L::RpSGAN_MVUE, L::RpLSGAN_MVUE, L::RpHinge_MVUE};
}

std::string gan_loss_name(GanLoss l) {
  const char* fam[] = {"SGAN", "LSGAN", "HingeGAN", "WGAN-GP"};
  const int n = int(l);
  const std::string base = fam[n % 10 - 1];
  const char* prefix[] = {"", "Ra", "Rc", "Rp", "Rp"};
  return prefix[n / 10] + base + (n > 40 ? "-MVUE" : "");
}

GanLoss parse_gan_loss(const std::string& s) {
  std::string k;  // lower case without '-' and '_': "RpHinge-MVUE" -> "rphingemvue"
  for (char c : s)
    if (c != '-' && c != '_') k += char(std::tolower(static_cast<unsigned char>(c)));
  const std::vector<std::vector<std::string>> fam = {{"sgan", "gan"}, {"lsgan"}, {"hinge", "hingegan"}, {"wgan", "wgangp"}};
  const char* prefix[] = {"", "ra", "rc", "rp", "rp"};
  for (GanLoss l : all_gan_losses()) {
    const int n = int(l);
    if (k == std::to_string(n)) return l;
    for (const std::string& f : fam[size_t(n % 10 - 1)]) {
      std::string key = prefix[n / 10];
      key += f;
      if (n > 40) key += "mvue";
      if (k == key) return l;
    }
  }
  std::string valid;
  for (GanLoss l : all_gan_losses()) {
    valid += ' ';
    valid += std::to_string(int(l));
    valid += " (" + gan_loss_name(l) + ")";
  }
  MMGAN_FAIL("unknown GAN loss '", s, "'; valid:", valid);
}

bool relativistic(GanLoss l) { return int(l) > 10; }

Tensor d_loss(GanLoss l, const Tensor& cr, const Tensor& cf) {
  check_outputs("d_loss", cr, cf);
  const Family f = family(l);
  switch (int(l) / 10) {
    case 0: return up(f, cr) + (f == Family::LSGAN ? mean(square(cf)) : down(f, cf));  // LSGAN labels 1 / 0
    case 1: return up(f, cr - mean(cf)) + down(f, cf - mean(cr));
    case 2: {
      const Tensor m = (mean(cr) + mean(cf)) * 0.5;
      return up(f, cr - m) + down(f, cf - m);
    }
    case 3: return up(f, cr - cf) * 2.0;
    default: return up(f, pairwise(cr, cf)) * 2.0;
  }
}

Tensor g_loss(GanLoss l, const Tensor& cr, const Tensor& cf) {
  const Family f = family(l);
  if (!relativistic(l)) {
    MMGAN_CHECK(cf.defined() && cf.dim() == 1, "g_loss: C(x_fake) must be [N]");
    // The official G losses: SGAN and LSGAN push C(xf) to the real label; Hinge and WGAN use -mean C(xf).
    return f == Family::Hinge ? -mean(cf) : up(f, cf);
  }
  check_outputs("g_loss", cr, cf);
  switch (int(l) / 10) {
    case 1: return down(f, cr - mean(cf)) + up(f, cf - mean(cr));
    case 2: {
      const Tensor m = (mean(cr) + mean(cf)) * 0.5;
      return down(f, cr - m) + up(f, cf - m);
    }
    case 3: return up(f, cf - cr);
    default: return up(f, -pairwise(cr, cf)) * 2.0;
  }
}

}  // namespace mmgan::losses
