#include "manifest/prescan.h"

#include <cstdio>
#include <vector>

namespace ecert {
namespace {

// Length of the UTF-8 sequence starting at text[i], or 0 when it is not
// well-formed (overlong forms, surrogates and values past U+10FFFF included).
std::size_t utf8_length(std::string_view text, std::size_t i, char32_t* cp) {
  auto byte = [&](std::size_t k) -> unsigned { return static_cast<unsigned char>(text[k]); };
  unsigned b0 = byte(i);
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  std::size_t len;
  char32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, min = 0x80, *cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, min = 0x800, *cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, min = 0x10000, *cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    *cp = (*cp << 6) | (byte(i + k) & 0x3F);
  }
  if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) return 0;
  return len;
}

std::string hex_code(char32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
  return buf;
}

struct Pos {
  int line = 1;
  int column = 1;
};

// Byte-level pass: encoding, NUL and control characters.
bool check_bytes(std::string_view text, const std::string& file, Diagnostics* diags) {
  bool seen_utf8 = false, seen_nul = false, seen_control = false;
  Pos pos;
  auto report = [&](bool* seen, std::string msg) {
    if (*seen) return;
    *seen = true;
    diags->push_back({{file, pos.line, pos.column}, std::move(msg)});
  };
  for (std::size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    std::size_t len = utf8_length(text, i, &cp);
    if (len == 0) {
      report(&seen_utf8, "invalid UTF-8; save the manifest as UTF-8 text");
      len = 1;
    } else if (cp == 0) {
      report(&seen_nul, "NUL byte; a manifest is text, not binary data");
    } else if (cp == '\n') {
      ++pos.line;
      pos.column = 1;
      ++i;
      continue;
    } else if (cp == '\r') {
      if (i + 1 >= text.size() || text[i + 1] != '\n')
        report(&seen_control, "carriage return without line feed; use Unix or DOS line ends");
    } else if ((cp < 0x20 && cp != '\t') || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) ||
               (cp == 0xFEFF && i != 0)) {
      report(&seen_control, "control character " + hex_code(cp) + " is not allowed; remove it");
    }
    i += len;
    pos.column += static_cast<int>(len);
  }
  return !(seen_utf8 || seen_nul || seen_control);
}

bool is_block_scalar_header(std::string_view content) {
  // "key: |", "- >-", "|2": the last token is | or > with optional indicators.
  std::size_t end = content.size();
  while (end > 0 && (content[end - 1] == ' ' || content[end - 1] == '\t')) --end;
  std::size_t start = end;
  while (start > 0 && content[start - 1] != ' ' && content[start - 1] != '\t') --start;
  std::string_view token = content.substr(start, end - start);
  if (token.empty() || (token[0] != '|' && token[0] != '>')) return false;
  for (char c : token.substr(1))
    if (c != '+' && c != '-' && !(c >= '1' && c <= '9')) return false;
  if (start == 0) return true;
  std::string_view before = content.substr(0, start);
  while (!before.empty() && (before.back() == ' ' || before.back() == '\t'))
    before.remove_suffix(1);
  return before.empty() || before.back() == ':' || before.back() == '-';
}

// Line-level pass: tabs in indentation and nesting depth. The depth counts
// block indentation levels, compact "- - " sequences and open flow brackets;
// it is an estimate that may overcount, never by enough to matter for a
// real manifest.
bool check_structure(std::string_view text, const std::string& file, Diagnostics* diags) {
  std::vector<int> indents;
  int flow_depth = 0;
  char quote = 0;                // inside a quoted scalar spanning lines
  int block_scalar_indent = -1;  // inside a literal/folded block scalar
  bool seen_tab = false;
  bool seen_depth = false;
  int line_no = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl == std::string_view::npos ? nl : nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ++line_no;
    start = nl == std::string_view::npos ? text.size() + 1 : nl + 1;

    std::size_t indent = 0;
    while (indent < line.size() && line[indent] == ' ') ++indent;
    std::size_t first = line.find_first_not_of(" \t");
    bool blank = first == std::string_view::npos;

    if (block_scalar_indent >= 0) {
      if (blank || static_cast<int>(indent) > block_scalar_indent) continue;
      block_scalar_indent = -1;
    }
    if (blank) continue;

    int block_depth = static_cast<int>(indents.size());
    std::size_t i = first;
    if (quote == 0 && flow_depth == 0) {
      if (line[first] == '#') continue;
      if (first != indent) {
        if (!seen_tab) {
          seen_tab = true;
          diags->push_back({{file, line_no, static_cast<int>(indent) + 1},
                            "tab in indentation; indent with spaces"});
        }
        continue;
      }
      while (!indents.empty() && indents.back() > static_cast<int>(indent)) indents.pop_back();
      if (indents.empty() || indents.back() < static_cast<int>(indent))
        indents.push_back(static_cast<int>(indent));
      block_depth = static_cast<int>(indents.size());
      while (i < line.size() && line[i] == '-' && (i + 1 == line.size() || line[i + 1] == ' ')) {
        ++block_depth;
        ++i;
        while (i < line.size() && line[i] == ' ') ++i;
      }
    }

    // Where a quote may open a quoted scalar: at the start of a value.
    char prev = 0;
    std::size_t content_end = line.size();
    for (; i < line.size(); ++i) {
      char c = line[i];
      if (quote != 0) {
        if (c == quote) {
          if (quote == '\'' && i + 1 < line.size() && line[i + 1] == '\'') {
            ++i;
            continue;
          }
          quote = 0;
        } else if (c == '\\' && quote == '"') {
          ++i;
        }
        prev = 'x';
        continue;
      }
      if (c == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
        content_end = i;
        break;
      }
      if ((c == '\'' || c == '"') &&
          (prev == 0 || prev == ':' || prev == '-' || prev == '[' || prev == '{' ||
           prev == ',' || prev == '?')) {
        quote = c;
        continue;
      }
      if (c == '[' || c == '{') {
        ++flow_depth;
        if (!seen_depth && block_depth + flow_depth > kMaxManifestNesting) {
          seen_depth = true;
          diags->push_back({{file, line_no, static_cast<int>(i) + 1},
                            "nesting is deeper than " + std::to_string(kMaxManifestNesting) +
                                " levels; a manifest needs no more than 6"});
        }
      } else if ((c == ']' || c == '}') && flow_depth > 0) {
        --flow_depth;
      }
      if (c != ' ' && c != '\t') prev = c;
    }
    if (!seen_depth && block_depth > kMaxManifestNesting) {
      seen_depth = true;
      diags->push_back({{file, line_no, static_cast<int>(indent) + 1},
                        "nesting is deeper than " + std::to_string(kMaxManifestNesting) +
                            " levels; a manifest needs no more than 6"});
    }
    if (quote == 0 && flow_depth == 0 && is_block_scalar_header(line.substr(0, content_end)))
      block_scalar_indent = static_cast<int>(indent);
  }
  return !seen_tab && !seen_depth;
}

}  // namespace

bool prescan_manifest(std::string_view text, const std::string& file, Diagnostics* diags) {
  if (!check_bytes(text, file, diags)) return false;
  return check_structure(text, file, diags);
}

}  // namespace ecert
