// JSON text, whatever the strings hold: a certificate's names, an Apache
// file's bytes or an operator's paths may not be UTF-8, and nlohmann's
// dump() throws on such bytes. Every JSON ecertctl writes goes through here.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace ecert {

// `j` as JSON text (dump(indent)); bytes that are not UTF-8 become U+FFFD.
inline std::string json_text(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ecert
