// The formulas of gan_loss.h. BCE_stable(x, 1) = mean softplus(-x), BCE_stable(x, 0) = mean
// softplus(x): the numerically stable forms PyTorch's BCEWithLogitsLoss computes.
#include "losses/gan_loss.h"

#include <algorithm>
#include <cctype>

#include "engine/error.h"
#include "engine/ops.h"

namespace mmgan::losses {
namespace {

enum class Family { SGAN, LSGAN, Hinge, WGAN };

// The official numbers: the ones digit is the family, the tens digit how real and fake outputs are
// compared (0 standard, 1 relativistic average, 2 centred, 3 paired, 4 paired over all N x N pairs).
enum class Variant { Standard, Average, Centred, Paired, PairedMvue };
constexpr int kVariantDigit = 10;

Variant variant(GanLoss l) { return Variant(int(l) / kVariantDigit); }

Family family(GanLoss l) {
  switch (int(l) % kVariantDigit) {
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
  return {L::SGAN,    L::LSGAN,   L::Hinge,  L::WGAN,    L::RaSGAN,  L::RaLSGAN,     L::RaHinge,      L::RcSGAN,
          L::RcLSGAN, L::RcHinge, L::RpSGAN, L::RpLSGAN, L::RpHinge, L::RpSGAN_MVUE, L::RpLSGAN_MVUE, L::RpHinge_MVUE};
}

std::string gan_loss_name(GanLoss l) {
  const char* fam[] = {"SGAN", "LSGAN", "HingeGAN", "WGAN-GP"};
  const int n = int(l);
  const std::string base = fam[n % kVariantDigit - 1];
  const char* prefix[] = {"", "Ra", "Rc", "Rp", "Rp"};
  return prefix[size_t(variant(l))] + base + (variant(l) == Variant::PairedMvue ? "-MVUE" : "");
}

GanLoss parse_gan_loss(const std::string& s) {
  std::string k;  // lower case without '-' and '_': "RpHinge-MVUE" -> "rphingemvue"
  for (char c : s)
    if (c != '-' && c != '_') k += char(std::tolower(static_cast<unsigned char>(c)));
  const std::vector<std::vector<std::string>> fam = {
      {"sgan", "gan"}, {"lsgan"}, {"hinge", "hingegan"}, {"wgan", "wgangp"}};
  const char* prefix[] = {"", "ra", "rc", "rp", "rp"};
  for (GanLoss l : all_gan_losses()) {
    const int n = int(l);
    if (k == std::to_string(n)) return l;
    for (const std::string& f : fam[size_t(n % kVariantDigit - 1)]) {
      std::string key = prefix[size_t(variant(l))];
      key += f;
      if (variant(l) == Variant::PairedMvue) key += "mvue";
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

bool relativistic(GanLoss l) { return variant(l) != Variant::Standard; }

Tensor d_loss(GanLoss l, const Tensor& cr, const Tensor& cf) {
  check_outputs("d_loss", cr, cf);
  const Family f = family(l);
  switch (variant(l)) {
    case Variant::Standard: return up(f, cr) + (f == Family::LSGAN ? mean(square(cf)) : down(f, cf));  // labels 1 / 0
    case Variant::Average: return up(f, cr - mean(cf)) + down(f, cf - mean(cr));
    case Variant::Centred: {
      const Tensor m = (mean(cr) + mean(cf)) * 0.5;
      return up(f, cr - m) + down(f, cf - m);
    }
    case Variant::Paired: return up(f, cr - cf) * 2.0;
    case Variant::PairedMvue: return up(f, pairwise(cr, cf)) * 2.0;
  }
  MMGAN_FAIL("d_loss: unknown loss ", int(l));
}

Tensor g_loss(GanLoss l, const Tensor& cr, const Tensor& cf) {
  const Family f = family(l);
  if (!relativistic(l)) {
    MMGAN_CHECK(cf.defined() && cf.dim() == 1, "g_loss: C(x_fake) must be [N]");
    // The official G losses: SGAN and LSGAN push C(xf) to the real label; Hinge and WGAN use -mean C(xf).
    return f == Family::Hinge ? -mean(cf) : up(f, cf);
  }
  check_outputs("g_loss", cr, cf);
  switch (variant(l)) {
    case Variant::Average: return down(f, cr - mean(cf)) + up(f, cf - mean(cr));
    case Variant::Centred: {
      const Tensor m = (mean(cr) + mean(cf)) * 0.5;
      return down(f, cr - m) + up(f, cf - m);
    }
    case Variant::Paired: return up(f, cf - cr);
    case Variant::PairedMvue: return up(f, -pairwise(cr, cf)) * 2.0;
    case Variant::Standard: break;
  }
  MMGAN_FAIL("g_loss: unknown loss ", int(l));
}

}  // namespace mmgan::losses
