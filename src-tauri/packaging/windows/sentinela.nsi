; Sentinela's Windows installer, built on Debian with its makensis (NSIS 3.08) by
; `scripts/windows package` (release, compressed) and `scripts/windows test` (debug, stored).
;
; Per user: no administrator rights, installed in %LOCALAPPDATA%\Programs\Sentinela, Start-menu
; entries in Portuguese or English (the user's Windows language), the AppUserModelID Windows
; needs before it shows the app's notifications, an entry in "Apps & features". The uninstaller
; removes the program and those entries and keeps what is the user's: the configuration
; (%APPDATA%\Sentinela), the journal (%LOCALAPPDATA%\Sentinela) and the secrets in Credential
; Manager — as the .deb does on Linux.
;
; makensis -DVERSION=0.1.0 -DBIN=<folder with the three files> -DOUT=<installer.exe> [-DSTORE]

; 64-bit, like the programs it installs (and Wine runs it without a 32-bit Wine).
Target amd64-unicode
ManifestDPIAware true
RequestExecutionLevel user
!ifdef STORE
  SetCompress off
!else
  SetCompressor /SOLID lzma
!endif

!define APP "Sentinela"
!define AUMID "br.sentinela.app"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP}"

Name "${APP}"
OutFile "${OUT}"
InstallDir "$LOCALAPPDATA\Programs\${APP}"
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"

!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "FileFunc.nsh"
!define MUI_ABORTWARNING
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!define MUI_FINISHPAGE_RUN "$INSTDIR\sentinela.exe"
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
; The first language is the default; Windows' own language picks the other.
!insertmacro MUI_LANGUAGE "PortugueseBR"
!insertmacro MUI_LANGUAGE "English"

LangString HistoryName ${LANG_PORTUGUESEBR} "Sentinela — Histórico"
LangString HistoryName ${LANG_ENGLISH} "Sentinela — History"
LangString SettingsName ${LANG_PORTUGUESEBR} "Sentinela — Configurações"
LangString SettingsName ${LANG_ENGLISH} "Sentinela — Settings"
LangString AppDescription ${LANG_PORTUGUESEBR} "Avisa por WhatsApp e telefone os alertas do CPD"
LangString AppDescription ${LANG_ENGLISH} "Relays data-center alerts by WhatsApp and phone calls"

VIProductVersion "${VERSION}.0"
VIAddVersionKey /LANG=${LANG_ENGLISH} "ProductName" "${APP}"
VIAddVersionKey /LANG=${LANG_ENGLISH} "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=${LANG_ENGLISH} "FileDescription" "${APP} installer"
VIAddVersionKey /LANG=${LANG_ENGLISH} "LegalCopyright" "Sentinela"

!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"

; The language is Windows' own; an administrator deploying for a team may fix it instead:
; `/LANG=pt-BR` or `/LANG=en` on the command line (with `/S` for an unattended install).
; `/NOAUTOSTART`: a first install does not make Sentinela start with Windows.
Var NoAutostart
Function .onInit
  ${GetParameters} $0
  ${GetOptions} $0 "/LANG=" $1
  ${If} $1 == "pt-BR"
    StrCpy $LANGUAGE ${LANG_PORTUGUESEBR}
  ${ElseIf} $1 == "en"
    StrCpy $LANGUAGE ${LANG_ENGLISH}
  ${EndIf}
  ClearErrors
  ${GetOptions} $0 "/NOAUTOSTART" $1
  ${IfNot} ${Errors}
    StrCpy $NoAutostart 1
  ${EndIf}
FunctionEnd

; The tray holds the engine: an update closes it (it resumes its work from the journal when it
; starts again, as after any restart) and starts it again at the end.
Var WasRunning
!macro CloseRunning
  nsExec::Exec 'taskkill /IM sentinela.exe'
  Pop $WasRunning
  ${If} $WasRunning == 0
    Sleep 2000
    nsExec::Exec 'taskkill /F /IM sentinela.exe'
    Pop $0
  ${EndIf}
!macroend

Section "Sentinela"
  !insertmacro CloseRunning
  SetOutPath "$INSTDIR"
  File "${BIN}\sentinela.exe"
  File "${BIN}\sentinela-headless.exe"
  ; The WebView2 loader the windows need, beside the exe.
  File "${BIN}\WebView2Loader.dll"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  ; Start-menu entries; the notifications' AppUserModelID on the main one and in the registry.
  CreateShortCut "$SMPROGRAMS\${APP}.lnk" "$INSTDIR\sentinela.exe" "" "$INSTDIR\sentinela.exe" 0 SW_SHOWNORMAL "" "$(AppDescription)"
  CreateShortCut "$SMPROGRAMS\$(HistoryName).lnk" "$INSTDIR\sentinela.exe" "--open history" "$INSTDIR\sentinela.exe" 0
  CreateShortCut "$SMPROGRAMS\$(SettingsName).lnk" "$INSTDIR\sentinela.exe" "--open settings" "$INSTDIR\sentinela.exe" 0
  WriteRegStr HKCU "Software\Classes\AppUserModelId\${AUMID}" "DisplayName" "${APP}"
  WriteRegStr HKCU "Software\Classes\AppUserModelId\${AUMID}" "IconUri" "$INSTDIR\sentinela.exe"

  ; A NOC workstation that reboots must watch again without anyone at it: a first install starts
  ; Sentinela with Windows (the value *Iniciar com o sistema* reads and the tray menu unticks); an
  ; update leaves the user's choice as it is.
  ReadRegStr $0 HKCU "${UNINSTALL_KEY}" "InstallLocation"
  ${If} $0 == ""
  ${AndIf} $NoAutostart != 1
    WriteRegStr HKCU "${RUN_KEY}" "${APP}" '"$INSTDIR\sentinela.exe"'
  ${EndIf}

  ; "Apps & features".
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${APP}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "${APP}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\sentinela.exe"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
  ; An update of a running tray, unattended: it starts again (interactive: the last page offers it).
  ${If} ${Silent}
  ${AndIf} $WasRunning == 0
    Exec '"$INSTDIR\sentinela.exe"'
  ${EndIf}
SectionEnd

Section "Uninstall"
  !insertmacro CloseRunning
  Delete "$INSTDIR\sentinela.exe"
  Delete "$INSTDIR\sentinela-headless.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${APP}.lnk"
  Delete "$SMPROGRAMS\Sentinela — Histórico.lnk"
  Delete "$SMPROGRAMS\Sentinela — History.lnk"
  Delete "$SMPROGRAMS\Sentinela — Configurações.lnk"
  Delete "$SMPROGRAMS\Sentinela — Settings.lnk"
  DeleteRegKey HKCU "Software\Classes\AppUserModelId\${AUMID}"
  ; "Iniciar com o sistema" would start a program that is gone.
  DeleteRegValue HKCU "${RUN_KEY}" "${APP}"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  ; Kept: %APPDATA%\Sentinela (configuration), %LOCALAPPDATA%\Sentinela (journal, logs) and
  ; the secrets in Credential Manager. Remove them by hand to forget everything.
SectionEnd
