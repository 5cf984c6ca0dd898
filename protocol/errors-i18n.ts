/**
 * The error catalog (protocol/errors.ts) in the seeds' other languages: per code, `{ es, de, fr }`,
 * each `{ message, fix }` (issue #19 item 5). English in protocol/errors.ts is authoritative: the
 * site, the CLI and the API answer in English (tests and scripts parse them); only the web console
 * shows these, by the error's code, in the page's language (web/i18n/errors.ts), keeping the
 * detail the site added as sent.
 *
 * Rows taken from the seeds' error appendix (`seeds` in the catalog) use the seeds' own text in
 * each language; the product's terms are the seeds' (es: Grupo Jump, Etiqueta, instalador; de:
 * Jump-Gruppe, Tag, Installationsprogramm; fr: groupe de Jump, balise, installateur). Commands,
 * flags and placeholders in backticks stay as in English (they are typed as they are).
 *
 * test/unit/i18n.test.ts fails when a catalog code lacks a language here, or when this table has
 * a code the catalog does not (the build's tests, not the compiler: a new code can be written and
 * run first, and its translations must come before the tests pass).
 */
import type { ErrorCode } from './errors.js';

/** One translated catalog row: what happened, and what the user does about it. */
export interface TranslatedRow {
  message: string;
  fix: string;
}

/** The translated languages (English is the catalog itself). */
export const TRANSLATED_LANGUAGES = ['es', 'de', 'fr'] as const;
export type TranslatedLanguage = (typeof TRANSLATED_LANGUAGES)[number];

/** Per catalog code, its message and fix in es, de and fr. */
export const ERROR_TRANSLATIONS: { readonly [C in ErrorCode]?: Readonly<Record<TranslatedLanguage, TranslatedRow>> } = {
  INSTALLER_KEY_UNKNOWN: {
    es: { message: "Este sitio no conoce la clave del instalador.", fix: "descargue un instalador nuevo del sitio (`jump installer create`)." },
    de: { message: "Der Schlüssel des Installationsprogramms ist dieser Site nicht bekannt.", fix: "laden Sie ein neues Installationsprogramm von der Site herunter (`jump installer create`)." },
    fr: { message: "La clé de l'installateur n'est pas connue de ce site.", fix: "téléchargez un nouvel installateur depuis le site (`jump installer create`)." },
  },
  INSTALLER_EXPIRED: {
    es: { message: "Este instalador ha caducado: un Jump Client debe iniciarse por primera vez dentro del lapso por el que el instalador es válido.", fix: "cree un instalador nuevo (`jump installer create --valid-for DURATION`)." },
    de: { message: "Dieses Installationsprogramm ist abgelaufen: Ein Jump Client muss das erste Mal innerhalb des Zeitraums gestartet werden, für den das Installationsprogramm gilt.", fix: "erstellen Sie ein neues Installationsprogramm (`jump installer create --valid-for DURATION`)." },
    fr: { message: "Cet installateur a expiré : un Jump Client doit être démarré pour la première fois pendant la période de validité de l'installateur.", fix: "créez un nouvel installateur (`jump installer create --valid-for DURATION`)." },
  },
  INSTALLER_REVOKED: {
    es: { message: "Este instalador fue revocado en el sitio.", fix: "cree un instalador nuevo (`jump installer create`)." },
    de: { message: "Dieses Installationsprogramm wurde auf der Site widerrufen.", fix: "erstellen Sie ein neues Installationsprogramm (`jump installer create`)." },
    fr: { message: "Cet installateur a été révoqué sur le site.", fix: "créez un nouvel installateur (`jump installer create`)." },
  },
  INSTALLER_USED_UP: {
    es: { message: "Este instalador ya se usó el número máximo de veces que permite.", fix: "cree un instalador nuevo (`jump installer create --max-uses N`)." },
    de: { message: "Dieses Installationsprogramm wurde so oft verwendet, wie es höchstens zulässt.", fix: "erstellen Sie ein neues Installationsprogramm (`jump installer create --max-uses N`)." },
    fr: { message: "Cet installateur a été utilisé le nombre maximal de fois qu'il autorise.", fix: "créez un nouvel installateur (`jump installer create --max-uses N`)." },
  },
  INSTALLER_OVERRIDE_FORBIDDEN: {
    es: { message: "El instalador no permite cambiar este campo durante la instalación.", fix: "quite la opción, o cree un instalador que lo permita (`jump installer create --allow-override FIELD`)." },
    de: { message: "Das Installationsprogramm erlaubt nicht, dieses Feld bei der Installation zu überschreiben.", fix: "entfernen Sie die Option, oder erstellen Sie ein Installationsprogramm, das es erlaubt (`jump installer create --allow-override FIELD`)." },
    fr: { message: "L'installateur ne permet pas de remplacer ce champ lors de l'installation.", fix: "retirez l'option, ou créez un installateur qui l'autorise (`jump installer create --allow-override FIELD`)." },
  },
  INSTALLER_KEY_MISMATCH: {
    es: { message: "El KEY_INFO indicado no es la clave de este instalador, así que no se genera su archivo de instalación.", fix: "envíe el KEY_INFO que se mostró al crear el instalador; si lo ha perdido, cree un instalador nuevo (`jump installer create`)." },
    de: { message: "Der angegebene KEY_INFO ist nicht der Schlüssel dieses Installationsprogramms, daher wird seine Installationsdatei nicht erstellt.", fix: "senden Sie den KEY_INFO, der beim Erstellen des Installationsprogramms angezeigt wurde; ist er verloren, erstellen Sie ein neues Installationsprogramm (`jump installer create`)." },
    fr: { message: "Le KEY_INFO donné n'est pas la clé de cet installateur : son fichier d'installation n'est pas généré.", fix: "envoyez le KEY_INFO affiché à la création de l'installateur ; s'il est perdu, créez un nouvel installateur (`jump installer create`)." },
  },
  INSTALLER_PACKAGE_MISSING: {
    es: { message: "El sitio no tiene ningún paquete de jump-client con el que generar este archivo de instalación.", fix: "en el sitio, ejecute `npm run package` (escribe dist/package/<platform>), o inicie el sitio con `jump-site serve --installer-packages DIR` indicando la carpeta que contiene las carpetas de plataforma." },
    de: { message: "Die Site hat kein jump-client-Paket, aus dem sie diese Installationsdatei erstellen kann.", fix: "führen Sie auf der Site `npm run package` aus (es schreibt dist/package/<platform>), oder starten Sie die Site mit `jump-site serve --installer-packages DIR` und dem Ordner, der die Plattformordner enthält." },
    fr: { message: "Le site n'a aucun paquet jump-client à partir duquel générer ce fichier d'installation.", fix: "sur le site, lancez `npm run package` (il écrit dist/package/<platform>), ou démarrez le site avec `jump-site serve --installer-packages DIR` en nommant le dossier qui contient les dossiers de plateforme." },
  },
  INSTALLER_TOOL_MISSING: {
    es: { message: "Al sitio le falta un programa que necesita para generar este archivo de instalación.", fix: "instálelo en la máquina del sitio: msibuild y msiinfo vienen con el paquete Debian msitools (`apt-get install msitools`)." },
    de: { message: "Der Site fehlt ein Programm, das sie zum Erstellen dieser Installationsdatei braucht.", fix: "installieren Sie es auf dem Rechner der Site: msibuild und msiinfo kommen mit dem Debian-Paket msitools (`apt-get install msitools`)." },
    fr: { message: "Il manque au site un programme nécessaire pour générer ce fichier d'installation.", fix: "installez-le sur la machine du site : msibuild et msiinfo sont fournis par le paquet Debian msitools (`apt-get install msitools`)." },
  },
  INSTALLER_BUILD_BUSY: {
    es: { message: "El sitio está generando tantos archivos de instalación como permite a la vez.", fix: "vuelva a intentarlo en unos segundos." },
    de: { message: "Die Site erstellt bereits so viele Installationsdateien gleichzeitig, wie sie zulässt.", fix: "versuchen Sie es in einigen Sekunden erneut." },
    fr: { message: "Le site génère déjà autant de fichiers d'installation à la fois qu'il le permet.", fix: "réessayez dans quelques secondes." },
  },
  INSTALLER_NOT_FOUND: {
    es: { message: "No existe ningún instalador con este uid.", fix: "lístelos con `jump installer list`." },
    de: { message: "Es gibt kein Installationsprogramm mit dieser UID.", fix: "listen Sie sie mit `jump installer list` auf." },
    fr: { message: "Aucun installateur n'a cet uid.", fix: "listez-les avec `jump installer list`." },
  },
  DEPLOY_LIMIT_REACHED: {
    es: { message: "Se alcanzó el número total de 'Jump Clients' desplegados para este sitio.", fix: "elimine los Jump Clients que ya no use (`jump clients delete ID`), o aumente el límite (`jump settings set jump-clients.max-total N`)." },
    de: { message: "Die Gesamtanzahl der bereitstellbaren Jump Clients für diese Webseite wurde erreicht.", fix: "entfernen Sie nicht mehr verwendete Jump Clients (`jump clients delete ID`), oder erhöhen Sie das Limit (`jump settings set jump-clients.max-total N`)." },
    fr: { message: "Le nombre total de Jump Clients pouvant être déployés pour ce site a été atteint.", fix: "supprimez les Jump Clients qui ne servent plus (`jump clients delete ID`), ou relevez la limite (`jump settings set jump-clients.max-total N`)." },
  },
  DEPLOY_ACTIVE_LIMIT_REACHED: {
    es: { message: "Se alcanzó el número total de 'Jump Clients' activos desplegados para este sitio.", fix: "despliéguelo como pasivo (`jump installer create --mode passive`), pase otros a pasivo, o aumente el límite (`jump settings set jump-clients.max-active N`)." },
    de: { message: "Die Gesamtanzahl der bereitstellbaren aktiven Jump Clients für diese Webseite wurde erreicht.", fix: "stellen Sie ihn passiv bereit (`jump installer create --mode passive`), schalten Sie andere auf passiv, oder erhöhen Sie das Limit (`jump settings set jump-clients.max-active N`)." },
    fr: { message: "Le nombre total de Jump Clients actifs pouvant être déployés pour ce site a été atteint.", fix: "déployez-le en mode passif (`jump installer create --mode passive`), passez-en d'autres en passif, ou relevez la limite (`jump settings set jump-clients.max-active N`)." },
  },
  ACTIVE_LIMIT_REACHED: {
    es: { message: "Se alcanzó el número de 'Jump Clients' activos.", fix: "pase otro Jump Client a pasivo (`jump clients edit ID --passive`), o aumente el límite (`jump settings set jump-clients.max-active N`)." },
    de: { message: "Die Anzahl aktiver Jump Clients wurde erreicht.", fix: "schalten Sie einen anderen Jump Client auf passiv (`jump clients edit ID --passive`), oder erhöhen Sie das Limit (`jump settings set jump-clients.max-active N`)." },
    fr: { message: "Le nombre de Jump Clients actifs a été atteint.", fix: "passez un autre Jump Client en passif (`jump clients edit ID --passive`), ou relevez la limite (`jump settings set jump-clients.max-active N`)." },
  },
  INSTALL_AS_ROOT: {
    es: { message: "Instalar como root haría que el Jump Client se ejecute como root, lo que no se recomienda.", fix: "indique con --user <username> el usuario con el que se ejecutará el Jump Client." },
    de: { message: "Eine Installation als root würde den Jump Client als root ausführen; das wird nicht empfohlen.", fix: "geben Sie mit --user <username> den Benutzer an, unter dem der Jump Client ausgeführt wird." },
    fr: { message: "Installer en tant que root exécuterait le Jump Client en tant que root, ce qui n'est pas recommandé.", fix: "indiquez avec --user <username> l'utilisateur sous lequel le Jump Client s'exécute." },
  },
  INSTALL_USER_UNKNOWN: {
    es: { message: "El usuario indicado con --user no existe en este equipo.", fix: "cree primero el usuario (useradd) o indique uno existente con --user." },
    de: { message: "Der mit --user angegebene Benutzer existiert auf diesem Computer nicht.", fix: "legen Sie den Benutzer zuerst an (useradd) oder geben Sie mit --user einen vorhandenen an." },
    fr: { message: "L'utilisateur indiqué avec --user n'existe pas sur cet ordinateur.", fix: "créez d'abord l'utilisateur (useradd) ou indiquez-en un existant avec --user." },
  },
  INSTALL_USER_NOT_ALLOWED: {
    es: { message: "El Jump Client no puede ejecutarse aquí con este usuario.", fix: "indique otro usuario con --user." },
    de: { message: "Der Jump Client kann hier nicht unter diesem Benutzer ausgeführt werden.", fix: "geben Sie mit --user einen anderen Benutzer an." },
    fr: { message: "Le Jump Client ne peut pas s'exécuter ici sous cet utilisateur.", fix: "indiquez un autre utilisateur avec --user." },
  },
  INSTALL_DIR_EXISTS: {
    es: { message: "El directorio de instalación ya existe; --install-dir debe indicar un directorio nuevo.", fix: "elija otra ruta, o ejecute el script de desinstalación del Jump Client instalado allí." },
    de: { message: "Das Installationsverzeichnis existiert bereits; --install-dir muss ein neues Verzeichnis angeben.", fix: "wählen Sie einen anderen Pfad, oder führen Sie das Deinstallationsskript des dort installierten Jump Clients aus." },
    fr: { message: "Le répertoire d'installation existe déjà ; --install-dir doit indiquer un nouveau répertoire.", fix: "choisissez un autre chemin, ou exécutez le script de désinstallation du Jump Client qui y est installé." },
  },
  INSTALL_DIR_UNWRITABLE: {
    es: { message: "No se puede crear el directorio de instalación: su directorio padre debe existir y admitir escritura.", fix: "elija con --install-dir una ubicación en la que pueda escribir." },
    de: { message: "Das Installationsverzeichnis kann nicht erstellt werden: Sein übergeordnetes Verzeichnis muss existieren und beschreibbar sein.", fix: "wählen Sie mit --install-dir einen Ort, an dem Sie schreiben dürfen." },
    fr: { message: "Le répertoire d'installation ne peut pas être créé : son répertoire parent doit exister et être accessible en écriture.", fix: "choisissez avec --install-dir un emplacement où vous pouvez écrire." },
  },
  INSTALL_DIR_UNSAFE: {
    es: { message: "Una instalación en modo de servicio debe estar donde solo root puede escribir: un directorio del camino pertenece a otro usuario o admite su escritura, y ese usuario podría reemplazar lo que ejecuta root.", fix: "elija con --install-dir una ubicación de root, como /opt/jumpclient." },
    de: { message: "Eine Installation im Dienstmodus muss dort liegen, wo nur root schreiben kann: Ein Verzeichnis auf dem Weg dorthin gehört einem anderen Benutzer oder ist für ihn beschreibbar, und er könnte ersetzen, was root ausführt.", fix: "wählen Sie mit --install-dir einen Ort, der root gehört, etwa /opt/jumpclient." },
    fr: { message: "Une installation en mode service doit se trouver là où seul root peut écrire : un répertoire du chemin appartient à un autre utilisateur ou lui est accessible en écriture, et cet utilisateur pourrait remplacer ce que root exécute.", fix: "choisissez avec --install-dir un emplacement appartenant à root, comme /opt/jumpclient." },
  },
  INSTALLER_DAMAGED: {
    es: { message: "El instalador está incompleto o dañado.", fix: "descárguelo de nuevo del sitio." },
    de: { message: "Das Installationsprogramm ist unvollständig oder beschädigt.", fix: "laden Sie es erneut von der Site herunter." },
    fr: { message: "L'installateur est incomplet ou endommagé.", fix: "téléchargez-le à nouveau depuis le site." },
  },
  INSTALL_FAILED: {
    es: { message: "La instalación falló y se revirtió; no quedó nada instalado.", fix: "corrija la causa indicada aquí y ejecute el instalador de nuevo." },
    de: { message: "Die Installation ist fehlgeschlagen und wurde rückgängig gemacht; nichts ist zurückgeblieben.", fix: "beheben Sie die hier genannte Ursache und führen Sie das Installationsprogramm erneut aus." },
    fr: { message: "L'installation a échoué et a été annulée ; rien n'a été laissé.", fix: "corrigez la cause indiquée ici et exécutez à nouveau l'installateur." },
  },
  INSTALL_IN_PROGRESS: {
    es: { message: "Hay otra instalación de Jump Client en curso en este equipo (Windows: el EXE termina con 1618, como msiexec).", fix: "espere a que termine y ejecute el instalador de nuevo; el bloqueo de una instalación interrumpida se recupera cuando su proceso ya no existe." },
    de: { message: "Auf diesem Computer läuft bereits eine andere Jump-Client-Installation (Windows: die EXE endet mit 1618, wie msiexec).", fix: "warten Sie, bis sie beendet ist, und führen Sie das Installationsprogramm erneut aus; die Sperre einer abgebrochenen Installation wird übernommen, sobald ihr Prozess beendet ist." },
    fr: { message: "Une autre installation de Jump Client est en cours sur cette machine (Windows : l'EXE se termine avec 1618, comme msiexec).", fix: "attendez qu'elle se termine et exécutez à nouveau l'installateur ; le verrou d'une installation interrompue est repris dès que son processus n'existe plus." },
  },
  SITE_IDENTITY_MISMATCH: {
    es: { message: "El sitio no pudo probar la identidad fijada en este Jump Client, así que se rechazó la conexión.", fix: "compruebe si hay una interceptación o una URL de sitio errónea; instale con un instalador del sitio correcto." },
    de: { message: "Die Site konnte die in diesem Jump Client festgelegte Identität nicht nachweisen; die Verbindung wurde abgelehnt.", fix: "prüfen Sie auf Abfangen oder eine falsche Site-URL; installieren Sie mit einem Installationsprogramm der richtigen Site." },
    fr: { message: "Le site n'a pas pu prouver l'identité épinglée dans ce Jump Client ; la connexion a été refusée.", fix: "vérifiez qu'il n'y a pas d'interception ni d'URL de site erronée ; installez avec un installateur du bon site." },
  },
  SITE_BUSY: {
    es: { message: "El sitio está admitiendo conexiones al ritmo configurado.", fix: "nada: el Jump Client lo reintenta tras el tiempo indicado." },
    de: { message: "Die Site nimmt Verbindungen mit der eingestellten Rate an.", fix: "nichts nötig: Der Jump Client versucht es nach der angegebenen Zeit erneut." },
    fr: { message: "Le site accepte les connexions au rythme configuré.", fix: "rien à faire : le Jump Client réessaie après le délai indiqué." },
  },
  AGENT_AUTH_FAILED: {
    es: { message: "El Jump Client no pudo probar su identidad ante el sitio.", fix: "reinstale el Jump Client con un instalador nuevo." },
    de: { message: "Der Jump Client konnte seine Identität gegenüber der Site nicht nachweisen.", fix: "installieren Sie den Jump Client mit einem neuen Installationsprogramm neu." },
    fr: { message: "Le Jump Client n'a pas pu prouver son identité au site.", fix: "réinstallez le Jump Client avec un nouvel installateur." },
  },
  PROTOCOL_VERSION_UNSUPPORTED: {
    es: { message: "El Jump Client habla una versión del protocolo que este sitio no admite.", fix: "actualice el Jump Client." },
    de: { message: "Der Jump Client spricht eine Protokollversion, die diese Site nicht unterstützt.", fix: "aktualisieren Sie den Jump Client." },
    fr: { message: "Le Jump Client parle une version du protocole que ce site ne prend pas en charge.", fix: "mettez à jour le Jump Client." },
  },
  PROTOCOL_INVALID_MESSAGE: {
    es: { message: "Un mensaje no cumplía su esquema o superaba su tamaño máximo.", fix: "use un Jump Client de la versión de este sitio; si persiste, infórmelo con el registro del sitio." },
    de: { message: "Eine Nachricht entsprach nicht ihrem Schema oder überschritt ihre Größenbegrenzung.", fix: "verwenden Sie einen Jump Client der Version dieser Site; wenn es bleibt, melden Sie es mit dem Protokoll der Site." },
    fr: { message: "Un message ne respectait pas son schéma ou dépassait sa taille maximale.", fix: "utilisez un Jump Client de la version de ce site ; si cela persiste, signalez-le avec le journal du site." },
  },
  HANDSHAKE_TIMEOUT: {
    es: { message: "El establecimiento de la conexión no terminó a tiempo.", fix: "compruebe la red entre el Jump Client y el sitio; el Jump Client lo reintenta solo." },
    de: { message: "Der Verbindungsaufbau wurde nicht rechtzeitig abgeschlossen.", fix: "prüfen Sie das Netzwerk zwischen Jump Client und Site; der Jump Client versucht es selbst erneut." },
    fr: { message: "L'établissement de la connexion ne s'est pas terminé à temps.", fix: "vérifiez le réseau entre le Jump Client et le site ; le Jump Client réessaie de lui-même." },
  },
  HEARTBEAT_LOST: {
    es: { message: "El otro extremo estuvo en silencio más de 1,5 intervalos de latido; se cortó la conexión.", fix: "nada: el Jump Client se vuelve a conectar solo; si se repite, compruebe la red." },
    de: { message: "Die Gegenstelle war länger als 1,5 Heartbeat-Intervalle still; die Verbindung wurde getrennt.", fix: "nichts nötig: Der Jump Client verbindet sich selbst neu; wenn es sich wiederholt, prüfen Sie das Netzwerk." },
    fr: { message: "L'autre extrémité est restée silencieuse plus de 1,5 intervalle de pulsation ; la connexion a été coupée.", fix: "rien à faire : le Jump Client se reconnecte de lui-même ; si cela se répète, vérifiez le réseau." },
  },
  JUMP_CLIENT_DELETED: {
    es: { message: "Este Jump Client se eliminó en el sitio y ya no puede conectarse.", fix: "reinstálelo con un instalador nuevo." },
    de: { message: "Dieser Jump Client wurde auf der Site entfernt und darf sich nicht mehr verbinden.", fix: "installieren Sie ihn mit einem neuen Installationsprogramm neu." },
    fr: { message: "Ce Jump Client a été supprimé sur le site et ne peut plus se connecter.", fix: "réinstallez-le avec un nouvel installateur." },
  },
  JUMP_CLIENT_QUARANTINED: {
    es: { message: "Este Jump Client está en cuarentena: dos conexiones usaron su identidad a la vez (una clave copiada). Se rechazan sesiones y conexiones.", fix: "un administrador lo libera (`jump clients release ID`) cuando la copia ya no exista, o lo elimina." },
    de: { message: "Dieser Jump Client ist in Quarantäne: Seine Identität wurde von zwei Verbindungen gleichzeitig verwendet (ein kopierter Schlüssel). Sitzungen und Verbindungen werden abgelehnt.", fix: "ein Administrator gibt ihn frei (`jump clients release ID`), sobald die Kopie entfernt ist, oder entfernt ihn." },
    fr: { message: "Ce Jump Client est en quarantaine : son identité a été utilisée par deux connexions à la fois (une clé copiée). Les sessions et les connexions sont refusées.", fix: "un administrateur le libère (`jump clients release ID`) une fois la copie supprimée, ou le supprime." },
  },
  JUMP_CLIENT_CLONED: {
    es: { message: "La identidad de este Jump Client se copió a otro equipo (un disco o una imagen clonados). La copia lo notificó al sitio y se detuvo; el original conserva su lugar.", fix: "en la copia, reinstale el Jump Client con un instalador; para imágenes, instale con NOSTART=1 (EXE: --nostart) y capture antes del primer inicio (docs/packaging.md, \"Golden images\")." },
    de: { message: "Die Identität dieses Jump Clients wurde auf einen anderen Rechner kopiert (ein geklonter Datenträger oder ein Image). Die Kopie hat es der Site gemeldet und sich beendet; das Original behält seinen Platz.", fix: "installieren Sie den Jump Client auf der Kopie mit einem Installationsprogramm neu; für Images mit NOSTART=1 (EXE: --nostart) installieren und vor dem ersten Start erfassen (docs/packaging.md, \"Golden images\")." },
    fr: { message: "L'identité de ce Jump Client a été copiée sur un autre ordinateur (un disque ou une image clonés). La copie l'a signalé au site et s'est arrêtée ; l'original garde sa place.", fix: "sur la copie, réinstallez le Jump Client avec un installateur ; pour les images, installez avec NOSTART=1 (EXE : --nostart) et capturez avant le premier démarrage (docs/packaging.md, \"Golden images\")." },
  },
  JUMP_CLIENT_NOT_FOUND: {
    es: { message: "El 'Jump Client' no existe.", fix: "búsquelo con `jump clients --search TEXT`." },
    de: { message: "Der Jump Client ist nicht vorhanden.", fix: "suchen Sie ihn mit `jump clients --search TEXT`." },
    fr: { message: "Le Jump Client n'existe pas.", fix: "recherchez-le avec `jump clients --search TEXT`." },
  },
  JUMP_CLIENT_OFFLINE: {
    es: { message: "El 'Jump Client' está fuera de línea.", fix: "en el equipo, compruebe que el Jump Client se ejecuta (`jump-client status`) y alcanza el sitio." },
    de: { message: "Der Jump Client ist offline.", fix: "prüfen Sie auf dem Endgerät, dass der Jump Client läuft (`jump-client status`) und die Site erreicht." },
    fr: { message: "Le Jump Client est hors ligne.", fix: "sur l'ordinateur, vérifiez que le Jump Client s'exécute (`jump-client status`) et atteint le site." },
  },
  JUMP_CLIENT_UNINSTALLED: {
    es: { message: "Se desinstaló el 'Jump Client' especificado.", fix: "instálelo de nuevo, o elimine su registro (`jump clients delete ID`)." },
    de: { message: "Der angegebene Jump Client wurde deinstalliert.", fix: "installieren Sie ihn erneut, oder entfernen Sie seinen Eintrag (`jump clients delete ID`)." },
    fr: { message: "Le Jump Client spécifié a été désinstallé.", fix: "installez-le à nouveau, ou supprimez son enregistrement (`jump clients delete ID`)." },
  },
  JUMP_CLIENT_AMBIGUOUS: {
    es: { message: "Más de un Jump Client tiene este nombre.", fix: "use su id (`jump clients --search NAME` los lista)." },
    de: { message: "Mehr als ein Jump Client hat diesen Namen.", fix: "verwenden Sie stattdessen seine ID (`jump clients --search NAME` listet sie auf)." },
    fr: { message: "Plusieurs Jump Clients portent ce nom.", fix: "utilisez plutôt son id (`jump clients --search NAME` les liste)." },
  },
  JUMP_GROUP_NOT_FOUND: {
    es: { message: "El Grupo Jump no existe.", fix: "use el nombre de un Grupo Jump compartido (`jump groups list`) o user:<username>." },
    de: { message: "Die Jump-Gruppe existiert nicht.", fix: "verwenden Sie den Namen einer gemeinsamen Jump-Gruppe (`jump groups list`) oder user:<username>." },
    fr: { message: "Le groupe de Jump n'existe pas.", fix: "utilisez le nom d'un groupe de Jump partagé (`jump groups list`) ou user:<username>." },
  },
  JUMP_GROUP_EXISTS: {
    es: { message: "Ya existe un Grupo Jump con este nombre.", fix: "elija otro nombre, o use el grupo existente." },
    de: { message: "Eine Jump-Gruppe mit diesem Namen existiert bereits.", fix: "wählen Sie einen anderen Namen, oder verwenden Sie die vorhandene Gruppe." },
    fr: { message: "Un groupe de Jump portant ce nom existe déjà.", fix: "choisissez un autre nom, ou utilisez le groupe existant." },
  },
  JUMP_SERVER_BUSY: {
    es: { message: "El servidor se encuentra demasiado ocupado. Vuelva a intentarlo más tarde.", fix: "espere unos segundos y vuelva a intentarlo." },
    de: { message: "Der Server ist momentan überlastet. Versuchen Sie es später erneut.", fix: "warten Sie einige Sekunden und versuchen Sie es dann erneut." },
    fr: { message: "Le serveur est actuellement trop occupé. Veuillez réessayer ultérieurement.", fix: "attendez quelques secondes, puis réessayez." },
  },
  JUMP_STARTS_IN_PROGRESS: {
    es: { message: "Hay demasiados inicios de sesión en curso para usted o para este Jump Client.", fix: "espere a que terminen o caduquen y vuelva a intentarlo." },
    de: { message: "Für Sie oder für diesen Jump Client laufen zu viele Sitzungsstarts.", fix: "warten Sie, bis sie abgeschlossen oder abgelaufen sind, und versuchen Sie es dann erneut." },
    fr: { message: "Trop de démarrages de session sont en cours pour vous ou pour ce Jump Client.", fix: "attendez qu'ils se terminent ou expirent, puis réessayez." },
  },
  JUMP_INTERNAL_ERROR: {
    es: { message: "Ocurrió un error interno al generar la sesión de soporte técnico.", fix: "vuelva a intentarlo; el registro del sitio tiene los detalles." },
    de: { message: "Ein interner Fehler ist beim Starten der Support-Sitzung Tech. aufgetreten.", fix: "versuchen Sie es erneut; das Protokoll der Site enthält die Einzelheiten." },
    fr: { message: "Une erreur interne s'est produite lors de la création de la session d'assistance technique.", fix: "réessayez ; le journal du site contient les détails." },
  },
  JUMP_INTERNAL_TIMEOUT: {
    es: { message: "Una operación interna está empleando demasiado tiempo intentando generar una sesión de soporte técnico.", fix: "vuelva a intentarlo; si se repite, compruebe la carga del sitio." },
    de: { message: "Ein interner Vorgang benötigte zu viel Zeit während der Erzeugung einer Support-Sitzung Tech.", fix: "versuchen Sie es erneut; wenn es sich wiederholt, prüfen Sie die Last der Site." },
    fr: { message: "Une opération interne a pris trop de temps à essayer de générer une session d'assistance technique.", fix: "réessayez ; si cela se répète, vérifiez la charge du site." },
  },
  JUMP_ACTIVE_NOT_CONNECTED: {
    es: { message: "El 'Jump Client' activo no está conectado.", fix: "vuelva a intentarlo en unos segundos." },
    de: { message: "Der aktive Jump Client ist nicht verbunden.", fix: "versuchen Sie es in einigen Sekunden erneut." },
    fr: { message: "Le Jump Client actif n'est pas connecté.", fix: "réessayez dans quelques secondes." },
  },
  JUMP_CONNECT_TIMEOUT: {
    es: { message: "Se acabó el tiempo al intentar conectarse al 'Jump Client'.", fix: "compruebe que está en línea (`jump clients show ID`) y vuelva a intentarlo." },
    de: { message: "Zeitüberschreitung beim Versuch, eine Verbindung mit dem Jump Client herzustellen.", fix: "prüfen Sie, ob er online ist (`jump clients show ID`), und versuchen Sie es dann erneut." },
    fr: { message: "Le délai d'attente a été dépassé lors de la tentative de connexion au Jump Client.", fix: "vérifiez qu'il est en ligne (`jump clients show ID`), puis réessayez." },
  },
  JUMP_CLIENT_DISABLED: {
    es: { message: "Debido a que el usuario deshabilitó el 'Jump Client' no se autorizará el inicio de una sesión en este momento.", fix: "pida a ese usuario que lo vuelva a habilitar (`jump-client enable`)." },
    de: { message: "Der Jump Client wurde vom Benutzer deaktiviert und gestattet aktuell nicht den Start einer Sitzung.", fix: "bitten Sie diesen Benutzer, ihn wieder zu aktivieren (`jump-client enable`)." },
    fr: { message: "Le Jump Client a été désactivé par l'utilisateur et ne permet pas le démarrage d'une session pour l'instant.", fix: "demandez à cet utilisateur de le réactiver (`jump-client enable`)." },
  },
  JUMP_VERSION_MISMATCH: {
    es: { message: "El 'Jump Client' está ejecutando una versión diferente y no intentará la actualización. Por favor, inténtelo de nuevo cuando se complete la actualización.", fix: "vuelva a intentarlo cuando termine su actualización." },
    de: { message: "Der Jump Client wird in einer anderen Version ausgeführt und versucht nicht, eine Aktualisierung durchzuführen. Bitte versuchen Sie es erneut, nachdem die Aktualisierung beendet wurde.", fix: "versuchen Sie es erneut, wenn seine Aktualisierung abgeschlossen ist." },
    fr: { message: "Le Jump Client utilise une version différente et ne tentera pas de se mettre à jour. Veuillez essayer à nouveau une fois la mise à jour effectuée.", fix: "réessayez une fois sa mise à jour terminée." },
  },
  JUMP_TICKET_INVALID: {
    es: { message: "El Jump Client rechazó el ticket de la sesión (falsificado, caducado o de otro cliente).", fix: "inicie la sesión de nuevo; un ticket dura poco y vale para un solo Jump Client." },
    de: { message: "Der Jump Client hat das Sitzungsticket abgelehnt (gefälscht, abgelaufen oder für einen anderen Client).", fix: "starten Sie die Sitzung erneut; ein Ticket ist kurzlebig und gilt für einen Jump Client." },
    fr: { message: "Le Jump Client a refusé le ticket de session (falsifié, expiré ou destiné à un autre client).", fix: "relancez la session ; un ticket a une courte durée de vie et vaut pour un seul Jump Client." },
  },
  JUMP_SESSION_NOT_FOUND: {
    es: { message: "No existe esa sesión, o ya terminó.", fix: "liste las sesiones en curso con `jump sessions`." },
    de: { message: "Diese Sitzung gibt es nicht, oder sie ist bereits beendet.", fix: "listen Sie laufende Sitzungen mit `jump sessions` auf." },
    fr: { message: "Cette session n'existe pas, ou elle est déjà terminée.", fix: "listez les sessions en cours avec `jump sessions`." },
  },
  JUMP_FORWARD_REFUSED: {
    es: { message: "El Jump Client no permite reenviar a esa dirección: solo se permiten sus propios puertos, salvo que su configuración permita su LAN.", fix: "haga un túnel a un puerto del propio equipo (localhost:PORT)." },
    de: { message: "Der Jump Client erlaubt keine Weiterleitung an diese Adresse: Nur seine eigenen Ports sind erlaubt, sofern seine Konfiguration nicht sein LAN erlaubt.", fix: "tunneln Sie zu einem Port des Endgeräts selbst (localhost:PORT)." },
    fr: { message: "Le Jump Client n'autorise pas la redirection vers cette adresse : seuls ses propres ports sont autorisés, sauf si sa configuration autorise son réseau local.", fix: "créez un tunnel vers un port de l'ordinateur lui-même (localhost:PORT)." },
  },
  LOCAL_PORT_IN_USE: {
    es: { message: "Otro programa ya usa el puerto local del túnel.", fix: "elija otro LOCALPORT, o 0 para uno libre." },
    de: { message: "Der lokale Port des Tunnels wird bereits von einem anderen Programm verwendet.", fix: "wählen Sie einen anderen LOCALPORT, oder 0 für einen freien." },
    fr: { message: "Le port local du tunnel est déjà utilisé par un autre programme.", fix: "choisissez un autre LOCALPORT, ou 0 pour un port libre." },
  },
  LOGIN_FAILED: {
    es: { message: "Nombre de usuario o contraseña incorrectos.", fix: "compruebe ambos; un administrador puede asignar una contraseña nueva (`jump-site user passwd NAME`)." },
    de: { message: "Falscher Benutzername oder falsches Passwort.", fix: "prüfen Sie beides; ein Administrator kann ein neues Passwort festlegen (`jump-site user passwd NAME`)." },
    fr: { message: "Nom d'utilisateur ou mot de passe incorrect.", fix: "vérifiez les deux ; un administrateur peut définir un nouveau mot de passe (`jump-site user passwd NAME`)." },
  },
  UNAUTHENTICATED: {
    es: { message: "Falta el token de la API, o caducó o fue revocado.", fix: "inicie sesión de nuevo (`jump login`)." },
    de: { message: "Das API-Token fehlt, ist abgelaufen oder wurde widerrufen.", fix: "melden Sie sich erneut an (`jump login`)." },
    fr: { message: "Le jeton d'API est absent, expiré ou révoqué.", fix: "reconnectez-vous (`jump login`)." },
  },
  PERMISSION_DENIED: {
    es: { message: "Su cuenta no tiene permiso para esto.", fix: "pida acceso a un administrador, o use una cuenta que lo tenga." },
    de: { message: "Ihr Konto hat dafür keine Berechtigung.", fix: "bitten Sie einen Administrator um Zugriff, oder verwenden Sie ein Konto, das ihn hat." },
    fr: { message: "Votre compte n'a pas l'autorisation de faire ceci.", fix: "demandez l'accès à un administrateur, ou utilisez un compte qui l'a." },
  },
  USER_DISABLED: {
    es: { message: "Esta cuenta está deshabilitada.", fix: "pida a un administrador que la vuelva a habilitar (consola web /login, USERS)." },
    de: { message: "Dieses Konto ist deaktiviert.", fix: "bitten Sie einen Administrator, es wieder zu aktivieren (Webkonsole /login, USERS)." },
    fr: { message: "Ce compte est désactivé.", fix: "demandez à un administrateur de le réactiver (console web /login, USERS)." },
  },
  CSRF_REJECTED: {
    es: { message: "Una petición que cambia datos, autenticada con la cookie de la consola web, llegó sin la cabecera propia de la consola o desde otro sitio (protección contra falsificación de peticiones entre sitios).", fix: "use las páginas de la consola web de este sitio; los scripts usan `Authorization: Bearer <token>` de `POST /api/v1/login` en lugar de la cookie." },
    de: { message: "Eine zustandsändernde Anfrage, angemeldet über das Cookie der Webkonsole, kam ohne den eigenen Header der Konsole oder von einer anderen Site (Schutz vor Cross-Site-Request-Forgery).", fix: "verwenden Sie die Seiten der Webkonsole dieser Site; Skripte verwenden `Authorization: Bearer <token>` aus `POST /api/v1/login` statt des Cookies." },
    fr: { message: "Une requête modifiant l'état, authentifiée par le cookie de la console web, est arrivée sans l'en-tête propre à la console ou depuis un autre site (protection contre la falsification de requêtes intersites).", fix: "utilisez les pages de la console web de ce site ; les scripts utilisent `Authorization: Bearer <token>` de `POST /api/v1/login` au lieu du cookie." },
  },
  LOGIN_THROTTLED: {
    es: { message: "Demasiados intentos de inicio de sesión.", fix: "espere el tiempo indicado en Retry-After y vuelva a intentarlo." },
    de: { message: "Zu viele Anmeldeversuche.", fix: "warten Sie die in Retry-After angegebene Zeit ab und versuchen Sie es dann erneut." },
    fr: { message: "Trop de tentatives de connexion.", fix: "attendez le délai indiqué dans Retry-After, puis réessayez." },
  },
  PASSWORD_CHANGE_REQUIRED: {
    es: { message: "Esta cuenta debe cambiar su contraseña antes de hacer cualquier otra cosa.", fix: "ejecute `jump passwd`." },
    de: { message: "Für dieses Konto muss zuerst das Passwort geändert werden.", fix: "führen Sie `jump passwd` aus." },
    fr: { message: "Ce compte doit changer son mot de passe avant toute autre chose.", fix: "exécutez `jump passwd`." },
  },
  USER_NOT_FOUND: {
    es: { message: "No existe ningún usuario con este nombre.", fix: "liste los usuarios con `jump-site user list --data DIR`." },
    de: { message: "Es gibt keinen Benutzer mit diesem Namen.", fix: "listen Sie die Benutzer mit `jump-site user list --data DIR` auf." },
    fr: { message: "Aucun utilisateur ne porte ce nom.", fix: "listez les utilisateurs avec `jump-site user list --data DIR`." },
  },
  USER_EXISTS: {
    es: { message: "Ya existe un usuario con este nombre.", fix: "elija otro nombre." },
    de: { message: "Ein Benutzer mit diesem Namen existiert bereits.", fix: "wählen Sie einen anderen Namen." },
    fr: { message: "Un utilisateur portant ce nom existe déjà.", fix: "choisissez un autre nom." },
  },
  SITE_DATA_NOT_FOUND: {
    es: { message: "Este directorio no contiene un almacén de sitio (site.db).", fix: "indique con --data DIR el directorio de datos del sitio (el que mostró `jump-site serve`)." },
    de: { message: "Dieses Verzeichnis enthält keinen Site-Speicher (site.db).", fix: "geben Sie mit --data DIR das Datenverzeichnis der Site an (das `jump-site serve` ausgegeben hat)." },
    fr: { message: "Ce répertoire ne contient pas de stockage de site (site.db).", fix: "indiquez avec --data DIR le répertoire de données du site (celui que `jump-site serve` a affiché)." },
  },
  SITE_ADDRESS_IN_USE: {
    es: { message: "El sitio no puede escuchar en esta dirección: otro programa la usa, o no está disponible aquí.", fix: "detenga ese programa o indique otra --listen HOST:PORT." },
    de: { message: "Die Site kann auf dieser Adresse nicht lauschen: Ein anderes Programm verwendet sie, oder sie ist hier nicht verfügbar.", fix: "beenden Sie dieses Programm oder geben Sie ein anderes --listen HOST:PORT an." },
    fr: { message: "Le site ne peut pas écouter sur cette adresse : un autre programme l'utilise, ou elle n'est pas disponible ici.", fix: "arrêtez ce programme ou indiquez un autre --listen HOST:PORT." },
  },
  VALIDATION_FAILED: {
    es: { message: "Un campo tiene un valor no válido.", fix: "consulte --help para ver los valores aceptados." },
    de: { message: "Ein Feld hat einen ungültigen Wert.", fix: "die zulässigen Werte nennt --help." },
    fr: { message: "Un champ a une valeur non valide.", fix: "consultez --help pour les valeurs acceptées." },
  },
  NOT_FOUND: {
    es: { message: "No existe esa ruta de la API.", fix: "compruebe la ruta en docs/api.md; la consola y el sitio pueden ser de versiones distintas." },
    de: { message: "Diese API-Route gibt es nicht.", fix: "prüfen Sie den Pfad in docs/api.md; Konsole und Site können unterschiedliche Versionen haben." },
    fr: { message: "Cette route d'API n'existe pas.", fix: "vérifiez le chemin dans docs/api.md ; la console et le site peuvent être de versions différentes." },
  },
  REQUEST_TIMEOUT: {
    es: { message: "La petición no llegó completa a tiempo (--headers-timeout, --request-timeout de jump-site serve); el sitio cerró la conexión.", fix: "envíe la petición completa de una vez; en un enlace lento, pida al administrador del sitio un --request-timeout más largo." },
    de: { message: "Die Anfrage war nicht rechtzeitig vollständig (--headers-timeout, --request-timeout von jump-site serve); die Site hat die Verbindung geschlossen.", fix: "senden Sie die ganze Anfrage auf einmal; bei einer langsamen Verbindung bitten Sie den Site-Administrator um ein längeres --request-timeout." },
    fr: { message: "La requête n'était pas complète à temps (--headers-timeout, --request-timeout de jump-site serve) ; le site a fermé la connexion.", fix: "envoyez toute la requête d'un coup ; sur une liaison lente, demandez à l'administrateur du site un --request-timeout plus long." },
  },
  UPDATE_FAILED: {
    es: { message: "El Jump Client no pudo actualizarse a la compilación ofrecida y volvió a su versión anterior.", fix: "lea el motivo en `jump updates status`, corrija la compilación y luego `jump updates retry ID`." },
    de: { message: "Der Jump Client konnte nicht auf den angebotenen Build aktualisieren und ist zu seiner vorherigen Version zurückgekehrt.", fix: "lesen Sie den Grund in `jump updates status`, korrigieren Sie den Build, dann `jump updates retry ID`." },
    fr: { message: "Le Jump Client n'a pas pu se mettre à jour vers la version proposée et est revenu à sa version précédente.", fix: "lisez la raison dans `jump updates status`, corrigez la version, puis `jump updates retry ID`." },
  },
  UPDATE_SIGNATURE_INVALID: {
    es: { message: "La compilación ofrecida no coincide con su tamaño, su sha256 o la firma de actualizaciones del sitio, así que el Jump Client la rechazó.", fix: "vuelva a importar las compilaciones (`jump-site builds import DIR`); si persiste, busque manipulaciones en el directorio de datos y luego `jump updates retry ID`." },
    de: { message: "Der angebotene Build passt nicht zu seiner Größe, seinem sha256 oder der Update-Signatur der Site; der Jump Client hat ihn abgelehnt.", fix: "importieren Sie die Builds erneut (`jump-site builds import DIR`); wenn es bleibt, prüfen Sie das Datenverzeichnis auf Manipulation, dann `jump updates retry ID`." },
    fr: { message: "La version proposée ne correspond pas à sa taille, à son sha256 ou à la signature de mise à jour du site ; le Jump Client l'a refusée.", fix: "réimportez les versions (`jump-site builds import DIR`) ; si cela persiste, vérifiez que le répertoire de données n'a pas été altéré, puis `jump updates retry ID`." },
  },
  UPDATE_BUILDS_NOT_FOUND: {
    es: { message: "La carpeta no contiene ninguna compilación de jump-client.", fix: "indique la carpeta de salida de `npm run package` (tiene una subcarpeta por plataforma, p. ej. linux-x64/)." },
    de: { message: "Der Ordner enthält keinen jump-client-Build.", fix: "geben Sie den Ausgabeordner von `npm run package` an (er hat einen Unterordner je Plattform, z. B. linux-x64/)." },
    fr: { message: "Le dossier ne contient aucune version de jump-client.", fix: "indiquez le dossier de sortie de `npm run package` (il a un sous-dossier par plateforme, p. ex. linux-x64/)." },
  },
  UPDATE_PLATFORM_UNKNOWN: {
    es: { message: "La compilación es para una plataforma que este sitio no atiende.", fix: "importe solo compilaciones para linux-x64, linux-arm64 o win-x64." },
    de: { message: "Der Build ist für eine Plattform, die diese Site nicht bedient.", fix: "importieren Sie nur Builds für linux-x64, linux-arm64 oder win-x64." },
    fr: { message: "La version est destinée à une plateforme que ce site ne sert pas.", fix: "importez uniquement des versions pour linux-x64, linux-arm64 ou win-x64." },
  },
  CONSOLE_NOT_LOGGED_IN: {
    es: { message: "No ha iniciado sesión en el sitio.", fix: "jump login --site https://HOST:PORT" },
    de: { message: "Nicht an der Site angemeldet.", fix: "jump login --site https://HOST:PORT" },
    fr: { message: "Vous n'êtes pas connecté au site.", fix: "jump login --site https://HOST:PORT" },
  },
  SITE_UNREACHABLE: {
    es: { message: "No se pudo alcanzar el sitio.", fix: "compruebe la URL y que `jump-site serve` se ejecuta allí." },
    de: { message: "Die Site war nicht erreichbar.", fix: "prüfen Sie die URL und ob dort `jump-site serve` läuft." },
    fr: { message: "Le site n'a pas pu être joint.", fix: "vérifiez l'URL et que `jump-site serve` s'y exécute." },
  },
  SITE_CERT_MISMATCH: {
    es: { message: "El sitio presentó un certificado TLS distinto del fijado o indicado: alguien puede estar interceptando la conexión, o el sitio tiene un certificado nuevo. No se envió nada.", fix: "compare las huellas con la que mostró `jump-site serve`; si el cambio es esperado, inicie sesión de nuevo con --fingerprint y la nueva." },
    de: { message: "Die Site hat ein anderes TLS-Zertifikat vorgelegt als das festgelegte oder angegebene: Jemand könnte die Verbindung abfangen, oder die Site hat ein neues Zertifikat. Es wurde nichts gesendet.", fix: "vergleichen Sie die Fingerabdrücke mit dem, den `jump-site serve` ausgegeben hat; ist die Änderung erwartet, melden Sie sich mit --fingerprint und dem neuen erneut an." },
    fr: { message: "Le site a présenté un certificat TLS autre que celui épinglé ou indiqué : quelqu'un intercepte peut-être la connexion, ou le site a un nouveau certificat. Rien n'a été envoyé.", fix: "comparez les empreintes avec celle affichée par `jump-site serve` ; si le changement est attendu, reconnectez-vous avec --fingerprint et la nouvelle." },
  },
  SITE_CERT_NOT_TRUSTED: {
    es: { message: "El certificado del sitio no era de confianza, así que no se envió nada.", fix: "compare su huella con la que mostró `jump-site serve` y responda yes, o pásela con --fingerprint SHA256:..." },
    de: { message: "Dem Zertifikat der Site wurde nicht vertraut; es wurde nichts gesendet.", fix: "vergleichen Sie seinen Fingerabdruck mit dem, den `jump-site serve` ausgegeben hat, und antworten Sie yes, oder übergeben Sie ihn mit --fingerprint SHA256:..." },
    fr: { message: "Le certificat du site n'était pas de confiance ; rien n'a été envoyé.", fix: "comparez son empreinte avec celle affichée par `jump-site serve` et répondez yes, ou passez-la avec --fingerprint SHA256:..." },
  },
  INTERNAL_ERROR: {
    es: { message: "Ocurrió un error interno.", fix: "el registro del sitio tiene los detalles; infórmelo con ellos." },
    de: { message: "Ein interner Fehler ist aufgetreten.", fix: "das Protokoll der Site enthält die Einzelheiten; melden Sie ihn damit." },
    fr: { message: "Une erreur interne s'est produite.", fix: "le journal du site contient les détails ; signalez-la avec ceux-ci." },
  },
};

/**
 * The catalog row of `code` in `lang`, or undefined when it has no translation (the caller then
 * shows the English text).
 */
export function translatedRow(code: ErrorCode, lang: TranslatedLanguage): TranslatedRow | undefined {
  return ERROR_TRANSLATIONS[code]?.[lang];
}
