// Random seeds for requests that give none, and unique, unguessable ids (chatcmpl-..., call_...).
#pragma once

#include <cstdint>
#include <string>

namespace wedlm::server {

uint64_t fresh_seed();
std::string request_id(const char* prefix, int64_t n);  // prefix + n + a random suffix

}  // namespace wedlm::server
