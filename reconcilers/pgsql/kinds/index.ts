/** The PGSQL module's resource kinds: registered with the engine from this one place (the reconciler's `kinds`, index.ts), and the only module kinds its builder takes. */
import { patroniDcs } from './patroni-dcs.js';
import { patroniDcsRestart, patroniPause } from './patroni-dcs-client.js';
import { patroniLeader } from './patroni-leader.js';
import { patroniMember } from './patroni-member.js';
import { patroniRestart } from './patroni-restart.js';
import { patroniRetire } from './patroni-retire.js';
import { pgExporterOff } from './pg-exporter-off.js';
import { pgVip } from './pg-vip.js';
import { pgDatabase } from './pg-database.js';
import { pgDbsu } from './pg-dbsu.js';
import { pgExtension } from './pg-extension.js';
import { pgTemplate } from './pg-template.js';
import { pgRole } from './pg-role.js';
import { pgbackrestStanza } from './pgbackrest-stanza.js';
import { pgPitr } from './pg-pitr.js';

export const PGSQL_KINDS = [patroniMember, patroniLeader, patroniDcs, patroniRestart, patroniPause, patroniDcsRestart, patroniRetire, pgRole, pgDatabase, pgExtension, pgTemplate, pgDbsu, pgbackrestStanza, pgExporterOff, pgVip, pgPitr] as const;
