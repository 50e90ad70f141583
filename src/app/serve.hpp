#pragma once
#include <string>

namespace paygate::app {

// `paygate serve`: loads the config, opens the store, serves until SIGTERM/SIGINT, drains,
// closes the store. `verify_only` disables the store (benchmark baseline). Returns exit code.
// Exit code after a failed WAL sync: restart the process (it recovers from the disk).
inline constexpr int kExitStoreFailed = 3;

int serve(const std::string& config_path, bool verify_only, const std::string& port_file,
          bool allow_readable_secrets = false);

}  // namespace paygate::app
