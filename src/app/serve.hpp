#pragma once
#include <string>

namespace paygate::app {

// `paygate serve`: loads the config, opens the store, serves until SIGTERM/SIGINT, drains,
// closes the store. `verify_only` disables the store (benchmark baseline). Returns exit code.
int serve(const std::string& config_path, bool verify_only, const std::string& port_file);

}  // namespace paygate::app
