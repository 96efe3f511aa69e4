// The CA's manual submission steps for a CSR, as text and JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "manifest/model.h"

namespace ecert {

struct Submission {
  const Site* site = nullptr;
  std::string csr_path;
  std::string csr_pem;
  std::string key_path;
  bool renewal = false;  // the staged CSR of a renewal
  std::string manifest_arg;
};

std::string submission_text(const Submission& s);
nlohmann::json submission_json(const Submission& s);

}  // namespace ecert
