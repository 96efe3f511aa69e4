// Which bytes of which Apache files the vhost changes of a plan rewrite.
// Shared by apply (which writes them) and plan (which shows them as diffs).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "apache/config.h"
#include "engine/plan.h"
#include "manifest/model.h"

namespace ecert {

struct FileEdits {
  fs::path path;                                  // the real file
  std::vector<apache::VhostEdit> blocks;          // vhosts in this file
  std::vector<apache::DirectiveEdit> directives;  // SSL lines Included into a vhost from this file
  std::set<std::size_t> sites;                    // indexes of the sites these edits serve
};

// Groups the kPatchVhost changes of `plan` (for sites whose vhost is in
// `vhosts`, keyed by site index) by the real file they land in.
std::map<std::string, FileEdits> group_vhost_edits(const Manifest& manifest, const Plan& plan,
                                                   const std::map<std::size_t, const apache::VirtualHost*>& vhosts);

// The new content of one file. Pure.
Result<std::string> apply_file_edits(std::string_view content, const FileEdits& edits);

}  // namespace ecert
