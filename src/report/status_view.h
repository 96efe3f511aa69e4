// Rendering status: text, JSON and Prometheus text format.
#pragma once

#include <nlohmann/json.hpp>
#include <iosfwd>
#include <string>

#include "engine/status.h"

namespace ecert {

std::string status_text(const StatusReport& r);
nlohmann::json status_json(const StatusReport& r, const std::string& manifest_arg);
// status_json(...).dump(2) and a newline, one site at a time.
void write_status_json(std::ostream& out, const StatusReport& r, const std::string& manifest_arg);
// Metric names follow cert-manager's (certificate expiration timestamp,
// ready status), prefixed ecertctl_.
std::string status_prometheus(const StatusReport& r);

// The metrics for a manifest that did not load: ecertctl_manifest_valid 0,
// so node_exporter does not keep serving the last good file's "ready".
std::string invalid_manifest_prometheus();

}  // namespace ecert
