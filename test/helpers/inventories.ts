/** Inventories the module tests share. */

/** pg-test: three members on 10.0.0.11-13 (the first the primary) and one etcd member; `vars` are more cluster variables, in YAML's flow style. */
export const threeMemberPgTest = (vars = ''): string => `
all:
  children:
    etcd: { hosts: { 10.0.0.11: { etcd_seq: 1 } }, vars: { etcd_cluster: etcd } }
    pg-test:
      hosts:
        10.0.0.11: { pg_seq: 1, pg_role: primary }
        10.0.0.12: { pg_seq: 2, pg_role: replica }
        10.0.0.13: { pg_seq: 3, pg_role: replica }
      vars: { pg_cluster: pg-test, pg_version: 15${vars ? `, ${vars}` : ''} }
`;
