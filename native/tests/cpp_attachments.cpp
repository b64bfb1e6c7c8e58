// Attachments through the C++ wrapper, between two engines of one user through the fixture's
// server: add_attachment (vector and pointer forms) and add_attachment_file return the reference
// JSON, attachment_id_of reads its id, attachment() gives back the bytes; the other engine's
// attachment() throws SYNC_RESULT_NOT_FOUND until fetch_attachment()'s completion event arrived
// through process_events(), then holds the same bytes; save_attachment writes them; errors are
// sync_exception with the C code.
#include <cstdint>
#include <string>
#include <vector>

#include "cpp_common.hpp"

using SyncClient::sync_engine;
using namespace cpptest;

static TestEnv env;

int main() {
  test_env_load(&env);
  std::string email = unique_email("cpp-attachments");
  sync_engine a(test_db_path("cpp-att-a"), env.server_url, email, env.api_key, env.api_secret);
  sync_engine b(test_db_path("cpp-att-b"), env.server_url, email, env.api_key, env.api_secret);

  std::vector<uint8_t> bytes(300000);
  for (size_t i = 0; i < bytes.size(); i++) bytes[i] = static_cast<uint8_t>(i * 7 + i / 256);
  std::string id, file_id;

  SECTION("add and read back", {
    std::string reference = a.add_attachment(bytes, "application/x-test");
    id = sync_engine::attachment_id_of(reference);
    CHECK(id.size() == 71 && id.compare(0, 7, "sha256-") == 0);
    CHECK(contains(reference, "\"length\":300000") && contains(reference, "\"content_type\":\"application/x-test\""));
    CHECK(a.attachment(id) == bytes);
    CHECK(sync_engine::attachment_id_of(a.add_attachment(bytes.data(), bytes.size())) == id);
    CHECK(a.attachment(sync_engine::attachment_id_of(a.add_attachment(std::vector<uint8_t>()))).empty());
    a.create_document("{\"title\":\"with a file\",\"file\":" + reference + "}");

    std::string path = test_db_path("cpp-att-file");
    const char text[] = "a file's bytes";
    REQUIRE(test_write_file(path.c_str(), text, sizeof text - 1));
    std::string from_file = a.add_attachment_file(path, "text/plain");
    file_id = sync_engine::attachment_id_of(from_file);
    char expected[72];
    REQUIRE(test_attachment_id_of_file(path.c_str(), expected));
    CHECK(file_id == expected);
    CHECK(a.attachment(file_id) == std::vector<uint8_t>(text, text + sizeof text - 1));
  });

  SECTION("upload", {
    CHECK(pump_until(a, [&] { return a.count_pending_attachments() == 0; }, 60000));
    CHECK(contains(a.attachment_state(id), "\"uploaded\":true"));
  });

  SECTION("fetch on another device", {
    CHECK_THROWS_CODE(b.attachment(id), SYNC_RESULT_NOT_FOUND);
    int completed = 0;
    int progress = 0;
    b.register_callback([&](const SyncEventData &e) {
      if (e.event_type == SYNC_EVENT_ATTACHMENT_PROGRESS) progress++;
      if (e.event_type == SYNC_EVENT_ATTACHMENT_COMPLETED && sync_engine::attachment_id_of(e.content) == id && !e.boolean_data) completed++;
    });
    b.fetch_attachment(id);
    CHECK(pump_until(b, [&] { return completed == 1; }, 60000));
    CHECK(progress >= 1);
    CHECK(b.attachment(id) == bytes);
    std::string saved = test_db_path("cpp-att-saved");
    b.save_attachment(file_id, saved);
    size_t length = 0;
    unsigned char *got = test_read_file(saved.c_str(), &length);
    CHECK(got && std::string(reinterpret_cast<char *>(got), length) == "a file's bytes");
    free(got);
  });

  SECTION("errors", {
    CHECK_THROWS_CODE(a.attachment("sha256-nothex"), SYNC_RESULT_INVALID_INPUT);
    CHECK_THROWS_CODE(a.add_attachment(bytes, "not a type"), SYNC_RESULT_INVALID_INPUT);
    CHECK_THROWS_CODE(a.add_attachment_file(test_db_path("cpp-att-missing")), SYNC_RESULT_INVALID_INPUT);
    CHECK_THROWS_CODE(a.fetch_attachment(""), SYNC_RESULT_INVALID_INPUT);
    CHECK_THROWS_CODE(a.attachment_state("sha256-" + std::string(64, '0')), SYNC_RESULT_NOT_FOUND);
    CHECK(sync_engine::attachment_id_of("{\"title\":\"no reference\"}").empty());
  });
  return test_finish("cpp_attachments");
}
