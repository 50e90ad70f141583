#pragma once
#include <fstream>
#include <sstream>
#include <string>

namespace paygate::app {

// The whole file, bytes as they are (bodies, keys); false when it cannot be read.
inline bool read_all(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

}  // namespace paygate::app
