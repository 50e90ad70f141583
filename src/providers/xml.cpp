#include "providers/xml.hpp"

#include <pugixml.hpp>

namespace paygate::providers {

core::Result<FormParams> parse_flat_xml(std::string_view text, std::string_view root,
                                        std::size_t max_bytes) {
  using core::ErrorCode;
  using core::fail;
  if (text.size() > max_bytes) return fail(ErrorCode::kMalformed, "XML too large");
  if (text.find("<!") != std::string_view::npos) {
    // Only CDATA sections may use "<!"; DOCTYPE, ENTITY and comments may not.
    std::size_t pos = 0;
    while ((pos = text.find("<!", pos)) != std::string_view::npos) {
      if (text.substr(pos, 9) != "<![CDATA[") {
        return fail(ErrorCode::kMalformed, "XML declarations are not accepted");
      }
      pos += 9;
    }
  }
  pugi::xml_document doc;
  // Only the five predefined entities and character references are expanded.
  const unsigned options = pugi::parse_cdata | pugi::parse_escapes;
  const auto r = doc.load_buffer(text.data(), text.size(), options, pugi::encoding_utf8);
  if (!r) return fail(ErrorCode::kMalformed, std::string("not XML: ") + r.description());
  const pugi::xml_node top = doc.document_element();
  if (!top || root != top.name()) return fail(ErrorCode::kMalformed, "unexpected XML root");
  if (top.next_sibling()) return fail(ErrorCode::kMalformed, "more than one XML root");
  FormParams out;
  for (pugi::xml_node child = top.first_child(); child; child = child.next_sibling()) {
    if (child.type() != pugi::node_element) {
      const std::string_view v = child.value();
      if (v.find_first_not_of(" \t\r\n") == std::string_view::npos) continue;  // whitespace
      return fail(ErrorCode::kMalformed, "text outside XML elements");
    }
    std::string value;
    for (pugi::xml_node part = child.first_child(); part; part = part.next_sibling()) {
      if (part.type() != pugi::node_pcdata && part.type() != pugi::node_cdata) {
        return fail(ErrorCode::kMalformed, "nested XML elements are not accepted");
      }
      value += part.value();
    }
    if (form_value(out, child.name()) != nullptr) {
      return fail(ErrorCode::kMalformed, "repeated XML element");
    }
    out.emplace_back(child.name(), std::move(value));
  }
  return out;
}

}  // namespace paygate::providers
