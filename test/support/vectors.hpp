#pragma once
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace paygate::test {

inline nlohmann::json load_vectors(const std::string& topic) {
  std::ifstream in(std::string(PAYGATE_VECTORS_DIR) + "/" + topic + ".json");
  if (!in) throw std::runtime_error("cannot open vectors " + topic);
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

}  // namespace paygate::test
