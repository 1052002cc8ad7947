// The flags of `mmgan margins` (lab/margin_lab.h), kept out of mmgan.cpp.
#pragma once
#include <CLI/CLI.hpp>

#include "lab/margin_lab.h"

namespace mmgan::tools {

// Adds the subcommand `margins` to app; parsing fills o.
CLI::App* add_margins_command(CLI::App& app, lab::MarginLabOptions& o);

}  // namespace mmgan::tools
