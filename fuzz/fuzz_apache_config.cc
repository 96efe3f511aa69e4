// libFuzzer target: the Apache config reader and editor.
//
// The input is one config file (read as the root, with a second file it may
// Include). Properties:
//  - load_config never crashes or hangs, whatever the bytes;
//  - for every vhost found in the root file, patch_config_text either errors
//    or returns a text that (a) parses again, (b) still has the vhost, now
//    saying the new SSL paths, and (c) keeps every byte outside the edited
//    vhost's lines: the lines before the <VirtualHost> line and after the
//    </VirtualHost> line are byte-identical, and inside the block every
//    original line that is not an SSLCertificate*File directive survives in
//    order;
//  - lines inside a section Apache skips (VirtualHost::unread, given to the
//    editor as VhostEdit::unread) survive byte for byte, SSL lines included,
//    and vhosts Apache does not read are never offered for editing.
// The config is read with -D FUZZ, so <IfDefine FUZZ> is true.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "apache/config.h"

namespace {

using ecert::MemoryFileSystem;
namespace apache = ecert::apache;

// Physical lines, each with its terminator.
std::vector<std::string_view> lines_of(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start < s.size()) {
    std::size_t nl = s.find('\n', start);
    std::size_t end = nl == std::string_view::npos ? s.size() : nl + 1;
    out.push_back(s.substr(start, end - start));
    start = end;
  }
  return out;
}

bool ieq_prefix(std::string_view line, std::string_view word) {
  std::size_t i = 0;
  // Leading blanks as Apache (apr_isspace) and the lexer see them, lone CR included.
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\f' || line[i] == '\v')) ++i;
  if (line.size() - i < word.size()) return false;
  for (std::size_t k = 0; k < word.size(); ++k) {
    char a = line[i + k], b = word[k];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

// Whether physical line `line` (1-based) lies in a section of `vh` that Apache skips.
bool unread(const apache::VirtualHost& vh, std::size_t line) {
  for (const apache::LineRange& r : vh.unread)
    if (line >= static_cast<std::size_t>(r.first) && line <= static_cast<std::size_t>(r.last)) return true;
  return false;
}

[[noreturn]] void fail(const char* what, int line) {
  std::fprintf(stderr, "property violated: %s (vhost line %d)\n", what, line);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;
  std::string text(reinterpret_cast<const char*>(data), size);
  const char* root = "/srv/apache/httpd.conf";
  MemoryFileSystem mfs;
  mfs.add_file(root, text);
  mfs.add_file("/srv/apache/inc/extra.conf", "<VirtualHost *:443>\nServerName inc.example.com\n</VirtualHost>\n");
  apache::LoadOptions options;
  options.defines = {"FUZZ"};
  auto config = apache::load_config(mfs, root, options);
  if (!config.is_ok()) return 0;

  const std::vector<std::string_view> before = lines_of(text);
  int checked = 0;
  for (const apache::VirtualHost& skipped : config->unread_vhosts)
    for (const apache::VirtualHost& vh : config->vhosts)
      if (vh.real_file == skipped.real_file && vh.line == skipped.line) fail("an unread vhost is also read", vh.line);
  for (const apache::VirtualHost& vh : config->vhosts) {
    if (vh.file != root || vh.line <= 0 || vh.end_line < vh.line) continue;
    if (++checked > 4) break;
    apache::VhostEdit edit;
    edit.vhost_line = vh.line;
    edit.settings = {"/etc/ssl/private/fuzz.key", "/etc/ssl/certs/fuzz.crt", "/etc/ssl/certs/fuzz-chain.crt"};
    edit.unread = vh.unread;
    auto patched = apache::patch_config_text(text, {edit});
    if (!patched.is_ok()) continue;
    const std::vector<std::string_view> after = lines_of(*patched);

    // Lines before the block's first line are identical.
    const std::size_t head = static_cast<std::size_t>(vh.line - 1);
    if (after.size() < head || before.size() < head) fail("lost lines before the vhost", vh.line);
    for (std::size_t i = 0; i < head; ++i)
      if (before[i] != after[i]) fail("changed a line before the vhost", vh.line);
    // Lines after the closing line are identical (compare from the end).
    const std::size_t tail = before.size() - static_cast<std::size_t>(vh.end_line);
    if (after.size() < head + tail) fail("lost lines after the vhost", vh.line);
    for (std::size_t i = 0; i < tail; ++i)
      if (before[before.size() - 1 - i] != after[after.size() - 1 - i])
        fail("changed a line after the vhost", vh.line);
    // Inside: every line that is not (the start of) an SSLCertificate*
    // directive or a continuation of one survives, in order.
    std::size_t j = head;
    bool in_ssl_directive = false;
    for (std::size_t i = head; i < before.size() - tail; ++i) {
      std::string_view l = before[i];
      bool continued_from_ssl = in_ssl_directive;
      bool is_ssl = !unread(vh, i + 1) && (ieq_prefix(l, "SSLCertificateFile") ||
                                           ieq_prefix(l, "SSLCertificateKeyFile") ||
                                           ieq_prefix(l, "SSLCertificateChainFile"));
      std::string_view body = l;
      while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
      bool continues = !body.empty() && body.back() == '\\';
      in_ssl_directive = (is_ssl || continued_from_ssl) && continues;
      if (is_ssl || continued_from_ssl) continue;
      while (j < after.size() - tail && after[j] != l) ++j;
      if (j >= after.size() - tail) fail("dropped or changed a line inside the vhost", vh.line);
      ++j;
    }
    // The edit parses again and the vhost now says what was asked.
    MemoryFileSystem mfs2;
    mfs2.add_file(root, *patched);
    mfs2.add_file("/srv/apache/inc/extra.conf", "<VirtualHost *:443>\nServerName inc.example.com\n</VirtualHost>\n");
    auto again = apache::load_config(mfs2, root, options);
    if (!again.is_ok()) fail("patched config does not parse", vh.line);
    const apache::VirtualHost* found = nullptr;
    for (const auto& v2 : again->vhosts)
      if (v2.file == root && v2.line == vh.line) found = &v2;
    if (!found) fail("patched vhost not found at its line", vh.line);
    if (found->ssl_value("SSLCertificateFile") != std::optional<std::string>("/etc/ssl/certs/fuzz.crt") ||
        found->ssl_value("SSLCertificateKeyFile") != std::optional<std::string>("/etc/ssl/private/fuzz.key") ||
        found->ssl_value("SSLCertificateChainFile") != std::optional<std::string>("/etc/ssl/certs/fuzz-chain.crt"))
      fail("patched vhost does not say the new paths", vh.line);
  }
  return 0;
}
