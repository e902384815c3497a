/* A tiny non-Linux guest for the host-kvm tier and the start-up bench: an
 * ELF entered in 64-bit mode like a vmlinux, it prints one line on the UART
 * and reports status 42 through the exit device (built with NB_PAYLOAD_WAIT:
 * it waits instead, until nestbox is stopped). A few dozen simple CPL0
 * instructions, so even a PVM host's instruction emulator runs it. */
	.code64
	.text
	.globl _start
_start:
	lea	message(%rip), %rsi
	mov	$message_len, %ecx
	mov	$0x3f8, %dx
1:	movb	(%rsi), %al
	outb	%al, %dx
	inc	%rsi
	dec	%ecx
	jnz	1b
#ifndef NB_PAYLOAD_WAIT
	mov	$0x510, %dx
	mov	$0x4e42002a, %eax	/* NB_EXIT_MAGIC | 42 */
	outl	%eax, %dx
#endif
2:	hlt
	jmp	2b

message:
	.ascii	"nestbox payload: hello\n"
	message_len = . - message
