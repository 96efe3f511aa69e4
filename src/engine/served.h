// What Apache serves for a site, compared with the files on disk: one TLS
// handshake with SNI to vhost.verify. Used by apply (after a restart) and
// status.
#pragma once

#include <chrono>
#include <string>

#include "manifest/model.h"
#include "util/fs.h"

namespace ecert {

struct ServedFacts {
  std::string address;  // vhost.verify
  bool reachable = false;
  bool matches = false;  // leaf and chain equal the site's certificate and chain files
  std::string detail;    // what was served, for the operator
};

// REQUIRES: site.vhost.verify is set.
ServedFacts probe_served(const Site& site, const FileSystem& fs, std::chrono::milliseconds timeout);

}  // namespace ecert
