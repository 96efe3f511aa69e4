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

// Line-level pass: tabs in indentation, nesting depth and quotes left open.
// The depth counts block indentation levels, compact "- - " sequences and
// open flow brackets; it is an estimate that may overcount, never by enough
// to matter for a real manifest.
//
// A quote is left open when a line that continues the quoted value is not
// indented more than the line where the value began (YAML requires more), or
// when the file ends inside it. yaml-cpp reads on to the next quote character
// instead (or, at the end of a file without a final line end, reports
// "illegal EOF in scalar" there), so the operator would be told about
// whatever the swallowed lines were meant to say.
class StructureScan {
 public:
  StructureScan(const std::string& file, Diagnostics* diags) : file_(file), diags_(diags) {}

  void line(std::string_view line, int line_no);
  // After the last line. Returns false when the text must not be parsed.
  bool finish();

 private:
  void report(bool* seen, int line_no, std::size_t byte, std::string message);
  void quote_left_open(std::string_view where);
  // Block indentation, "- " entries and tabs; returns where the content starts.
  std::size_t block_start(std::string_view line, int line_no, std::size_t indent,
                          std::size_t first, int* block_depth);
  // Quotes, comments and flow brackets; returns where a comment starts.
  std::size_t scan_content(std::string_view line, int line_no, std::size_t i, int block_depth);

  const std::string& file_;
  Diagnostics* diags_;
  std::vector<int> indents_;
  int flow_depth_ = 0;
  int block_scalar_indent_ = -1;  // inside a literal/folded block scalar
  int statement_indent_ = 0;      // of the last line that began outside quotes and flows
  char quote_ = 0;                // inside a quoted scalar, possibly spanning lines
  int quote_line_ = 0, quote_column_ = 0, quote_indent_ = 0;
  bool stopped_ = false;  // a line was refused: its indentation is not known
  bool seen_tab_ = false, seen_depth_ = false, seen_quote_ = false;
};

void StructureScan::report(bool* seen, int line_no, std::size_t byte, std::string message) {
  if (*seen) return;
  *seen = true;
  diags_->push_back({{file_, line_no, static_cast<int>(byte) + 1}, std::move(message)});
}

void StructureScan::quote_left_open(std::string_view where) {
  std::string q(1, quote_);
  report(&seen_quote_, quote_line_, static_cast<std::size_t>(quote_column_ - 1),
         "unclosed quote: this " + q + " is not closed before " + std::string(where) +
             "; close it where the value ends (a quoted value that goes on over several lines "
             "must indent them more than its key)");
  quote_ = 0;
}

std::size_t StructureScan::block_start(std::string_view line, int line_no, std::size_t indent,
                                       std::size_t first, int* block_depth) {
  if (first != indent) {
    report(&seen_tab_, line_no, indent, "tab in indentation; indent with spaces");
    stopped_ = true;
    return first;
  }
  statement_indent_ = static_cast<int>(indent);
  while (!indents_.empty() && indents_.back() > static_cast<int>(indent)) indents_.pop_back();
  if (indents_.empty() || indents_.back() < static_cast<int>(indent))
    indents_.push_back(static_cast<int>(indent));
  *block_depth = static_cast<int>(indents_.size());
  std::size_t i = first;
  while (i < line.size() && line[i] == '-' && (i + 1 == line.size() || line[i + 1] == ' ')) {
    ++*block_depth;
    ++i;
    while (i < line.size() && line[i] == ' ') ++i;
  }
  return i;
}

std::size_t StructureScan::scan_content(std::string_view line, int line_no, std::size_t i,
                                        int block_depth) {
  // A quote opens a quoted scalar only where a value (or key) starts.
  bool at_value = quote_ == 0;
  auto blank_at = [&](std::size_t k) { return k >= line.size() || line[k] == ' ' || line[k] == '\t'; };
  for (; i < line.size(); ++i) {
    const char c = line[i];
    if (quote_ != 0) {
      if (c == quote_ && quote_ == '\'' && i + 1 < line.size() && line[i + 1] == '\'') {
        ++i;
      } else if (c == quote_) {
        quote_ = 0;
      } else if (c == '\\' && quote_ == '"') {
        ++i;
      }
      continue;
    }
    if (c == ' ' || c == '\t') continue;
    if (c == '#' && (i == 0 || blank_at(i - 1))) return i;
    if ((c == '\'' || c == '"') && at_value) {
      quote_ = c;
      quote_line_ = line_no;
      quote_column_ = static_cast<int>(i) + 1;
      quote_indent_ = statement_indent_;
      continue;
    }
    if ((c == '[' || c == '{') && (at_value || flow_depth_ > 0)) {
      if (++flow_depth_ + block_depth > kMaxManifestNesting)
        report(&seen_depth_, line_no, i,
               "nesting is deeper than " + std::to_string(kMaxManifestNesting) +
                   " levels; a manifest needs no more than 6");
      continue;
    }
    if ((c == ']' || c == '}') && flow_depth_ > 0) {
      --flow_depth_;
      at_value = false;
      continue;
    }
    at_value = (c == ':' && (flow_depth_ > 0 || blank_at(i + 1))) || (c == ',' && flow_depth_ > 0) ||
               (c == '?' && at_value && blank_at(i + 1));
  }
  return line.size();
}

void StructureScan::line(std::string_view line, int line_no) {
  std::size_t indent = 0;
  while (indent < line.size() && line[indent] == ' ') ++indent;
  const std::size_t first = line.find_first_not_of(" \t");
  const bool blank = first == std::string_view::npos;
  if (block_scalar_indent_ >= 0) {
    if (blank || static_cast<int>(indent) > block_scalar_indent_) return;
    block_scalar_indent_ = -1;
  }
  if (blank) return;
  if (quote_ != 0 && static_cast<int>(first) <= quote_indent_)
    quote_left_open("line " + std::to_string(line_no));

  int block_depth = static_cast<int>(indents_.size());
  std::size_t i = first;
  if (quote_ == 0 && flow_depth_ == 0) {
    if (line[first] == '#') return;
    stopped_ = false;
    i = block_start(line, line_no, indent, first, &block_depth);
    if (stopped_) return;
  }
  const std::size_t content_end = scan_content(line, line_no, i, block_depth);
  if (block_depth > kMaxManifestNesting)
    report(&seen_depth_, line_no, indent,
           "nesting is deeper than " + std::to_string(kMaxManifestNesting) +
               " levels; a manifest needs no more than 6");
  if (quote_ == 0 && flow_depth_ == 0 && is_block_scalar_header(line.substr(0, content_end)))
    block_scalar_indent_ = static_cast<int>(indent);
}

bool StructureScan::finish() {
  if (quote_ != 0) quote_left_open("the end of the file");
  return !seen_tab_ && !seen_depth_ && !seen_quote_;
}

bool check_structure(std::string_view text, const std::string& file, Diagnostics* diags) {
  StructureScan scan(file, diags);
  int line_no = 0;
  for (std::size_t start = 0; start <= text.size();) {
    std::size_t nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl == std::string_view::npos ? nl : nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    scan.line(line, ++line_no);
    start = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
  }
  return scan.finish();
}

}  // namespace

bool prescan_manifest(std::string_view text, const std::string& file, Diagnostics* diags) {
  if (!check_bytes(text, file, diags)) return false;
  return check_structure(text, file, diags);
}

}  // namespace ecert
