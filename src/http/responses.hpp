#pragma once
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "http/server.hpp"

// The API's response shapes, shared by its handler files.
namespace paygate::http {

// One error shape for the whole API; `message` is chosen for callers, never a log detail.
HttpResponse error_response(core::ErrorCode code, std::string_view message);
// Store and internal details stay in logs; callers get a generic message for those.
HttpResponse error_response(const core::Error& e);
HttpResponse json_response(int status, std::string body);

}  // namespace paygate::http
