// What a partner's frontend does with the types `openapi-typescript` generates from
// ../../openapi.yaml: register a person client, read it, update it with If-Match.
//
// It is only type-checked (`tsc --noEmit`, run by contract/run.sh), never run. It leans on
// concrete field names, types, nullability, required-ness and enum values on purpose, so that a
// change to openapi.yaml that would break such a frontend breaks the type check: renaming or
// removing a field, changing its type, making a response field optional or nullable, adding a
// required request field, or adding or removing an enum value.

import createClient from "openapi-fetch";

import type { components, operations, paths } from "./generated/api";

type Schemas = components["schemas"];
export type ClientWithPerson = Schemas["ClientWithPerson"];
export type RegisterPersonIn = Schemas["RegisterPersonIn"];
export type UpdatePersonIn = Schemas["UpdatePersonIn"];
export type Problem = Schemas["Problem"];

// Exhaustive label tables: a value added to or removed from an enum in the spec is a compile error
// here (a missing key, or an excess one), as it would be in a frontend's `Record<Enum, ...>`.
export const KYC_STATUS_LABELS: Record<Schemas["KycStatus"], string> = {
  NOT_STARTED: "Not started",
  CREATED: "Created",
  PROCESSING: "Processing",
  ABORTED: "Aborted",
  PENDING_REVIEW: "Pending review",
  VALIDATED: "Validated",
  DECLINED: "Declined",
};
export const KYC_LEVEL_LABELS: Record<Schemas["KycLevel"], string> = {
  FULL_KYC: "Full KYC",
  DOC_ONLY: "Documents only",
  NOT_REQUIRED: "Not required",
};
export const RISK_LEVEL_LABELS: Record<Schemas["RiskLevel"], string> = {
  Low: "Low",
  Medium: "Medium",
  High: "High",
};
export const GENDER_LABELS: Record<Schemas["Gender"], string> = {
  male: "Male",
  female: "Female",
};

/**
 * What a client page shows: one line per response field, typed as a frontend relies on it, so
 * that a field renamed, retyped, made optional or made nullable in the spec fails here.
 */
export interface ClientView {
  id: string;
  organizationId: number;
  firstName: string;
  middleName: string | null;
  lastName: string;
  dateOfBirth: string;
  gender: string;
  nationality: string;
  birthCountry: string;
  taxResidence: string;
  email: string;
  secondEmail: string | null;
  mobile: string | null;
  secondMobile: string | null;
  address: string;
  postcode: string;
  city: string;
  stateProvince: string | null;
  countryCode: string;
  plannedIncome: string | null;
  plannedExpenditure: string | null;
  kycLevel: string;
  kycStatus: string;
  kycNote: string | null;
  riskLevel: string;
  externalClientCode: string | null;
  blacklisted: boolean;
  blacklistedComment: string | null;
  blocked: boolean;
  createdAt: string;
  updatedAt: string;
}

// The optional (nullable) response fields may be absent or null: a frontend folds both to null.
// `string | null | undefined` -> `string | null`; a field that stops being a string fails here.
function opt(value: string | null | undefined): string | null {
  return value ?? null;
}

export function toView(c: ClientWithPerson): ClientView {
  return {
    id: c.id,
    organizationId: c.organization_id,
    firstName: c.first_name,
    middleName: opt(c.middle_name),
    lastName: c.last_name,
    dateOfBirth: c.date_of_birth,
    gender: GENDER_LABELS[c.gender],
    nationality: c.nationality,
    birthCountry: c.birth_country,
    taxResidence: c.country_of_tax_residence,
    email: c.email,
    secondEmail: opt(c.second_email),
    mobile: opt(c.mobile_phone_number),
    secondMobile: opt(c.second_mobile_phone_number),
    address: c.address,
    postcode: c.postcode,
    city: c.city,
    stateProvince: opt(c.state_province),
    countryCode: c.country_code,
    plannedIncome: opt(c.planned_income),
    plannedExpenditure: opt(c.planned_expenditure),
    kycLevel: KYC_LEVEL_LABELS[c.kyc_level],
    kycStatus: KYC_STATUS_LABELS[c.kyc_status],
    kycNote: opt(c.kyc_note),
    riskLevel: RISK_LEVEL_LABELS[c.risk_level],
    externalClientCode: opt(c.external_client_code),
    blacklisted: c.is_blacklisted,
    blacklistedComment: opt(c.blacklisted_comment),
    blocked: c.blocked,
    createdAt: c.created_at,
    updatedAt: c.updated_at,
  };
}

/** A problem body as a frontend reports it: the stable code, and each refused field. */
export function describeProblem(p: Problem): string {
  const fields = (p.errors ?? []).map(
    (e) => `${e.pointer ?? e.parameter ?? "?"}: ${e.code} (${e.message})`,
  );
  const status: number = p.status;
  return `${status} ${p.code} [${p.request_id}] ${p.title}: ${p.detail}${fields.length ? `; ${fields.join("; ")}` : ""}`;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | undefined,
  ) {
    super(problem ? describeProblem(problem) : `HTTP ${status}`);
  }
}

export function api(baseUrl: string, apiKey: string) {
  return createClient<paths>({
    baseUrl,
    headers: { Authorization: `Bearer ${apiKey}` },
  });
}
type Api = ReturnType<typeof api>;

/** Registration with every required member, and the optional ones a CRM form would fill. */
export async function register(
  client: Api,
  idempotencyKey: string,
): Promise<{ client: ClientWithPerson; etag: string; location: string }> {
  const body: RegisterPersonIn = {
    first_name: "Ada",
    middle_name: null,
    last_name: "Lovelace",
    date_of_birth: "1990-04-21",
    gender: "female",
    nationality: "GBR",
    birth_country: "GBR",
    country_of_tax_residence: "FRA",
    email: "ada@example.com",
    second_email: null,
    mobile_phone_number: "+33612345678",
    address: "1 Rue de Rivoli",
    city: "Paris",
    postcode: "75001",
    state_province: null,
    country_code: "FRA",
    kyc_level: "FULL_KYC",
    kyc_note: "",
    planned_income: "50000-75000 EUR",
    external_client_code: "CRM-000042",
    risk_level: "Medium",
  };
  const { data, error, response } = await client.POST("/api/v1/clients/person", {
    params: { header: { "Idempotency-Key": idempotencyKey } },
    body,
  });
  if (error !== undefined) {
    // The documented failures of registration, each a problem body.
    throw new ApiError(response.status, error);
  }
  const created: ClientWithPerson = data;
  return {
    client: created,
    etag: response.headers.get("ETag") ?? "",
    location: response.headers.get("Location") ?? `/api/v1/clients/${created.id}`,
  };
}

export async function read(client: Api, id: string): Promise<{ client: ClientWithPerson; etag: string }> {
  const { data, error, response } = await client.GET("/api/v1/clients/{id}", {
    params: { path: { id } },
  });
  if (error !== undefined) {
    throw new ApiError(response.status, error);
  }
  return { client: data, etag: response.headers.get("ETag") ?? "" };
}

/**
 * "Update Customer Information": move the client, clear the KYC note, blacklist them with a
 * comment, only if nobody changed the record since `etag` was read. `null` keeps a field.
 */
export async function update(
  client: Api,
  id: string,
  etag: string,
): Promise<{ client: ClientWithPerson; etag: string } | { stale: true; currentEtag: string }> {
  const body: UpdatePersonIn = {
    address: "2 Place Bellecour",
    city: "Lyon",
    postcode: "69001",
    country_code: "fra",
    state_province: null,
    kyc_note: "",
    email: null,
    second_email: "",
    mobile_phone_number: "+33698765432",
    second_mobile_phone_number: null,
    planned_income: null,
    planned_expenditure: "1000-2000 EUR",
    risk_level: "High",
    is_blacklisted: true,
    blacklisted_comment: "Sanctions list match",
    blocked: false,
  };
  const { data, error, response } = await client.PUT("/api/v1/clients/person/{id}", {
    params: { path: { id }, header: { "If-Match": etag } },
    body,
  });
  if (error !== undefined) {
    if (response.status === 412) {
      // version_mismatch: the ETag header carries the current version.
      return { stale: true, currentEtag: response.headers.get("ETag") ?? "" };
    }
    throw new ApiError(response.status, error);
  }
  return { client: data, etag: response.headers.get("ETag") ?? "" };
}

/** The whole flow: register, read back, update with the ETag just read. */
export async function registerReadUpdate(baseUrl: string, apiKey: string): Promise<ClientView> {
  const client = api(baseUrl, apiKey);
  const registered = await register(client, `contract-ts-${Date.now()}`);
  const { client: current, etag } = await read(client, registered.client.id);
  const outcome = await update(client, current.id, etag);
  if ("stale" in outcome) {
    throw new Error(`changed by someone else; now at ${outcome.currentEtag}`);
  }
  return toView(outcome.client);
}

// Operation ids are part of what generated clients are named after.
export type OperationIds = keyof Pick<
  operations,
  "registerPersonClient" | "getClient" | "updatePersonClient" | "getClientHistory" | "listClients"
>;
