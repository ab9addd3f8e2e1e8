// Checks an OpenAPI document against the OpenAPI 3.0 schema and resolves
// its references: `node validate-openapi.mjs FILE`. web's
// TestAPIDefinition runs it on /api; it exits 1 with the reasons when the
// document is not valid.
import SwaggerParser from "@apidevtools/swagger-parser";

try {
  await SwaggerParser.validate(process.argv[2]);
} catch (err) {
  console.error(err.message);
  process.exit(1);
}
