// Rendering one Report model as text or JSON, so the two cannot disagree.
#pragma once

#include <nlohmann/json.hpp>
#include <functional>
#include <iosfwd>
#include <string>

#include "engine/result.h"
#include "util/diag.h"

namespace ecert {

// The JSON document of a plan or apply run ("format_version": "1").
nlohmann::json report_json(const Report& report, const std::string& manifest_arg);
// report_json(...).dump(2) and a newline, written one site at a time: a
// fleet's report is never held as one JSON document in memory.
void write_report_json(std::ostream& out, const Report& report, const std::string& manifest_arg);

// Human text: one block per site, then Apache, then a summary line.
std::string report_text(const Report& report);

// One line summing a run up: counts, Apache's outcome, the first errors.
std::string report_summary(const Report& report);

// What an Ansible module returns: changed, failed, msg, restart_needed,
// sites, and diff (before/after of chain and vhost files, never keys).
nlohmann::json report_ansible(const Report& report, const std::string& manifest_arg);
// report_ansible(...).dump(2) and a newline, one site at a time.
void write_report_ansible(std::ostream& out, const Report& report);

// What Salt's cmd.run with stateful: True reads from the last line of
// stdout: a one-line JSON object with "changed" and "comment".
std::string report_salt(const Report& report);

// Writes `document`.dump(2) and a newline, with the top-level array `key`
// holding n elements made one at a time by `element`: a fleet's worth of
// JSON is never held in memory at once. `document[key]` is replaced.
void write_json_streaming(std::ostream& out, nlohmann::json document, const std::string& key, std::size_t n,
                          const std::function<nlohmann::json(std::size_t)>& element);

// Manifest diagnostics as JSON ({"format_version":"1","errors":[...]}).
nlohmann::json diagnostics_json(const Diagnostics& diags);

}  // namespace ecert
